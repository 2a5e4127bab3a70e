#include "common/env.hpp"

#include <unistd.h>
#include <algorithm>
#include <charconv>
#include <cstdlib>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX global

namespace fgac {

std::optional<std::string> ProcessEnv::get(std::string_view name) const {
  const char* value = std::getenv(std::string(name).c_str());  // NOLINT(concurrency-mt-unsafe): read at start-up only
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::vector<std::string> ProcessEnv::names() const {
  std::vector<std::string> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view kv(*entry);
    out.emplace_back(kv.substr(0, kv.find('=')));
  }
  return out;
}

std::string EnvReader::str(std::string_view name, std::string_view fallback) {
  auto value = source_.get(name);
  return value && !value->empty() ? *value : std::string(fallback);
}

std::optional<std::string> EnvReader::optional_str(std::string_view name) {
  auto value = source_.get(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

std::string EnvReader::required_str(std::string_view name) {
  auto value = optional_str(name);
  if (!value) {
    errors_.push_back(std::string(name) + " is required");
    return {};
  }
  return *value;
}

bool EnvReader::boolean(std::string_view name, bool fallback) {
  auto value = optional_str(name);
  if (!value) return fallback;
  std::string v = *value;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  errors_.push_back(std::string(name) + "=" + *value + " is not a boolean (true or false)");
  return fallback;
}

std::int64_t EnvReader::integer(std::string_view name, std::int64_t fallback, std::int64_t min, std::int64_t max) {
  auto value = optional_str(name);
  if (!value) return fallback;
  std::int64_t parsed = 0;
  const char* first = value->data();
  const char* last = first + value->size();
  auto [ptr, ec] = std::from_chars(first, last, parsed);
  if (ec != std::errc() || ptr != last) {
    errors_.push_back(std::string(name) + "=" + *value + " is not an integer");
    return fallback;
  }
  if (parsed < min || parsed > max) {
    errors_.push_back(std::string(name) + "=" + *value + " is out of range [" + std::to_string(min) + ", " +
                      std::to_string(max) + "]");
    return fallback;
  }
  return parsed;
}

std::chrono::milliseconds EnvReader::millis(std::string_view name, std::chrono::milliseconds fallback,
                                            std::chrono::milliseconds min, std::chrono::milliseconds max) {
  return std::chrono::milliseconds(integer(name, fallback.count(), min.count(), max.count()));
}

std::uint16_t EnvReader::port(std::string_view name, std::uint16_t fallback) {
  return static_cast<std::uint16_t>(integer(name, fallback, 1, 65535));
}

void EnvReader::reject_unknown(const std::vector<std::string_view>& prefixes) {
  const auto& known = known_env_keys();
  for (const auto& name : source_.names()) {
    bool owned = std::any_of(prefixes.begin(), prefixes.end(),
                             [&](std::string_view p) { return std::string_view(name).starts_with(p); });
    if (owned && std::find(known.begin(), known.end(), name) == known.end()) {
      errors_.push_back("unknown variable " + name + " (a typo?)");
    }
  }
}

void EnvReader::finish() const {
  if (errors_.empty()) return;
  std::string message = "invalid configuration:";
  for (const auto& e : errors_) message += "\n  - " + e;
  throw ConfigError(message);
}

const std::vector<std::string_view>& known_env_keys() {
  static const std::vector<std::string_view> keys{"API_ADDR",
                                                  "API_PORT",
                                                  "API_MONITOR_PORT",
                                                  "API_DB_POOL_SIZE",
                                                  "API_MAX_BODY_BYTES",
                                                  "API_MAX_HEADER_BYTES",
                                                  "API_MAX_CONNECTIONS",
                                                  "API_MAX_JSON_DEPTH",
                                                  "API_HEADER_TIMEOUT_MS",
                                                  "API_DB_QUEUE_TIMEOUT_MS",
                                                  "API_READ_TIMEOUT_MS",
                                                  "API_IDLE_TIMEOUT_MS",
                                                  "AUTHN_TIMEOUT_MS",
                                                  "AUTHN_CACHE_TTL_MS",
                                                  "AUTHN_CACHE_MAX_ENTRIES",
                                                  "AUTHN_FORWARD_HEADERS",
                                                  "WORKER_MONITOR_PORT",
                                                  "WORKER_ID",
                                                  "WORKER_BATCH_SIZE",
                                                  "WORKER_CONCURRENCY",
                                                  "WORKER_LEASE_MS",
                                                  "WORKER_POLL_INTERVAL_MS",
                                                  "WORKER_POLL_ONLY",
                                                  "WORKER_BACKOFF_BASE_MS",
                                                  "WORKER_BACKOFF_CAP_MS",
                                                  "WORKER_BREAKER_TRIP_AFTER",
                                                  "WORKER_BREAKER_PAUSE_BASE_MS",
                                                  "WORKER_BREAKER_PAUSE_CAP_MS",
                                                  "WORKER_SHUTDOWN_GRACE_MS",
                                                  "WORKER_GAUGE_REFRESH_MS"};
  return keys;
}

const std::vector<std::string_view>& owned_env_prefixes() {
  static const std::vector<std::string_view> prefixes{"API_", "WORKER_", "AUTHN_"};
  return prefixes;
}

}  // namespace fgac
