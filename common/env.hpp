// Typed reading of environment variables into settings structs, with every
// problem collected so that start-up reports them all at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fgac {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Source of variables; the default reads the process environment, tests pass a map.
class EnvSource {
 public:
  virtual ~EnvSource() = default;
  [[nodiscard]] virtual std::optional<std::string> get(std::string_view name) const = 0;
  [[nodiscard]] virtual std::vector<std::string> names() const = 0;
};

class ProcessEnv final : public EnvSource {
 public:
  [[nodiscard]] std::optional<std::string> get(std::string_view name) const override;
  [[nodiscard]] std::vector<std::string> names() const override;
};

class EnvReader {
 public:
  explicit EnvReader(const EnvSource& source) : source_(source) {}

  std::string str(std::string_view name, std::string_view fallback);
  std::optional<std::string> optional_str(std::string_view name);
  std::string required_str(std::string_view name);
  bool boolean(std::string_view name, bool fallback);
  std::int64_t integer(std::string_view name, std::int64_t fallback, std::int64_t min, std::int64_t max);
  std::chrono::milliseconds millis(std::string_view name, std::chrono::milliseconds fallback,
                                   std::chrono::milliseconds min, std::chrono::milliseconds max);
  std::uint16_t port(std::string_view name, std::uint16_t fallback);

  // Records a cross-field problem found by the caller.
  void fail(std::string message) { errors_.push_back(std::move(message)); }

  // Rejects variables that carry one of our prefixes but are not a known key:
  // a typo such as WORKER_CONCURENCY must not be silently ignored.
  void reject_unknown(const std::vector<std::string_view>& prefixes);

  // Throws ConfigError listing every problem seen so far.
  void finish() const;

 private:
  const EnvSource& source_;
  std::vector<std::string> errors_;
};

// Every variable any fgac-tasks binary reads; one ConfigMap feeds them all.
const std::vector<std::string_view>& known_env_keys();
// Prefixes whose unknown variables are rejected at start-up.
const std::vector<std::string_view>& owned_env_prefixes();

}  // namespace fgac
