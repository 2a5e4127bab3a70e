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

// One variable a binary reads: its name, its default as text ("" when it is
// required or has none) and a line saying what it does. The README's tables
// are tested against these declarations.
struct EnvVar {
  std::string name;
  std::string fallback;
  std::string doc;
};

// Each call declares the variable it reads (so the declarations sit next to
// the loader that uses them), parses it and records any problem.
class EnvReader {
 public:
  explicit EnvReader(const EnvSource& source) : source_(source) {}

  std::string str(std::string_view name, std::string_view fallback, std::string_view doc = {});
  std::optional<std::string> optional_str(std::string_view name, std::string_view doc = {});
  std::string required_str(std::string_view name, std::string_view doc = {});
  bool boolean(std::string_view name, bool fallback, std::string_view doc = {});
  std::int64_t integer(std::string_view name, std::int64_t fallback, std::int64_t min, std::int64_t max,
                       std::string_view doc = {});
  std::chrono::milliseconds millis(std::string_view name, std::chrono::milliseconds fallback,
                                   std::chrono::milliseconds min, std::chrono::milliseconds max,
                                   std::string_view doc = {});
  std::uint16_t port(std::string_view name, std::uint16_t fallback, std::string_view doc = {});

  // Records a cross-field problem found by the caller.
  void fail(std::string message) { errors_.push_back(std::move(message)); }

  // Rejects variables that carry one of the binary's own prefixes but that
  // this reader was never asked for: a typo such as WORKER_CONCURENCY must not
  // be silently ignored. Call it after reading every variable.
  void reject_unknown(const std::vector<std::string_view>& prefixes);

  // Throws ConfigError listing every problem seen so far.
  void finish() const;

  [[nodiscard]] const std::vector<EnvVar>& declared() const { return declared_; }

 private:
  std::optional<std::string> value(std::string_view name, std::string fallback, std::string_view doc);

  const EnvSource& source_;
  std::vector<std::string> errors_;
  std::vector<EnvVar> declared_;
};

}  // namespace fgac
