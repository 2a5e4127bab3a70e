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

std::optional<std::string> EnvReader::value(std::string_view name, std::string fallback, std::string_view doc) {
  const bool seen = std::any_of(declared_.begin(), declared_.end(), [&](const EnvVar& v) { return v.name == name; });
  if (!seen) declared_.push_back(EnvVar{std::string(name), std::move(fallback), std::string(doc)});
  auto raw = source_.get(name);
  if (!raw || raw->empty()) return std::nullopt;
  return raw;
}

std::string EnvReader::str(std::string_view name, std::string_view fallback, std::string_view doc) {
  auto v = value(name, std::string(fallback), doc);
  return v ? *v : std::string(fallback);
}

std::optional<std::string> EnvReader::optional_str(std::string_view name, std::string_view doc) {
  return value(name, "", doc);
}

std::string EnvReader::required_str(std::string_view name, std::string_view doc) {
  auto v = value(name, "", doc);
  if (!v) {
    errors_.push_back(std::string(name) + " is required");
    return {};
  }
  return *v;
}

bool EnvReader::boolean(std::string_view name, bool fallback, std::string_view doc) {
  auto v = value(name, fallback ? "true" : "false", doc);
  if (!v) return fallback;
  std::string lower = *v;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return false;
  errors_.push_back(std::string(name) + "=" + *v + " is not a boolean (true or false)");
  return fallback;
}

std::int64_t EnvReader::integer(std::string_view name, std::int64_t fallback, std::int64_t min, std::int64_t max,
                                std::string_view doc) {
  auto v = value(name, std::to_string(fallback), doc);
  if (!v) return fallback;
  std::int64_t parsed = 0;
  const char* first = v->data();
  const char* last = first + v->size();
  auto [ptr, ec] = std::from_chars(first, last, parsed);
  if (ec != std::errc() || ptr != last) {
    errors_.push_back(std::string(name) + "=" + *v + " is not an integer");
    return fallback;
  }
  if (parsed < min || parsed > max) {
    errors_.push_back(std::string(name) + "=" + *v + " is out of range [" + std::to_string(min) + ", " +
                      std::to_string(max) + "]");
    return fallback;
  }
  return parsed;
}

std::chrono::milliseconds EnvReader::millis(std::string_view name, std::chrono::milliseconds fallback,
                                            std::chrono::milliseconds min, std::chrono::milliseconds max,
                                            std::string_view doc) {
  return std::chrono::milliseconds(integer(name, fallback.count(), min.count(), max.count(), doc));
}

std::uint16_t EnvReader::port(std::string_view name, std::uint16_t fallback, std::string_view doc) {
  return static_cast<std::uint16_t>(integer(name, fallback, 1, 65535, doc));
}

void EnvReader::reject_unknown(const std::vector<std::string_view>& prefixes) {
  for (const auto& name : source_.names()) {
    const bool owned = std::any_of(prefixes.begin(), prefixes.end(),
                                   [&](std::string_view p) { return std::string_view(name).starts_with(p); });
    const bool known = std::any_of(declared_.begin(), declared_.end(), [&](const EnvVar& v) { return v.name == name; });
    if (owned && !known) errors_.push_back("unknown variable " + name + " (a typo?)");
  }
}

void EnvReader::finish() const {
  if (errors_.empty()) return;
  std::string message = "invalid configuration:";
  for (const auto& e : errors_) message += "\n  - " + e;
  throw ConfigError(message);
}

}  // namespace fgac
