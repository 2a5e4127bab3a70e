#include "common/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <stdexcept>
#include <string>

#include "common/enum_names.hpp"

namespace fgac::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::mutex g_write_mutex;

constexpr EnumNames<Level, Level::error> kLevels{"debug", "info", "warn", "error"};

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[40];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(millis));
  return out;
}

}  // namespace

void set_level(Level level) {
  g_level.store(static_cast<int>(level));
}

Level parse_level(std::string_view name) {
  if (name == "warning") return Level::warn;
  if (const auto level = kLevels.parse(name)) return *level;
  throw std::invalid_argument("unknown log level '" + std::string(name) + "' (debug, info, warn, error)");
}

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view message, nlohmann::json fields) {
  if (!enabled(level)) return;
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = timestamp();
  line["level"] = kLevels.name(level);
  line["msg"] = message;
  if (fields.is_object()) {
    for (auto& [key, value] : fields.items()) line[key] = std::move(value);
  }
  // Replace invalid UTF-8 instead of throwing: log input may come from clients.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  std::lock_guard lock(g_write_mutex);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace fgac::log
