// Shared plumbing for taskctl subcommands: argument access, output, exit codes.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/pg_pool.hpp"

namespace fgac::taskctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Arguments after the subcommand name: flags (--x, --x=v, --x v) and positionals.
class Args {
 public:
  explicit Args(std::vector<std::string> args) : args_(std::move(args)) {}
  bool flag(const std::string& name);
  std::optional<std::string> option(const std::string& name);
  // An option's value as a whole number of at least `min` (or, from decimal(),
  // any number of at least `min`), unset when the option is absent; anything
  // else, trailing characters included, is a UsageError that names the option.
  std::optional<long long> whole(const std::string& name, long long min);
  std::optional<double> decimal(const std::string& name, double min);
  std::vector<std::string> positionals();  // call after consuming flags and options
  // Removes and returns the first positional argument (a subcommand), or "".
  std::string positionals_prefix();
  void expect_no_more();

 private:
  std::vector<std::string> args_;
};

// DATABASE_URL from --database-url or the environment; UsageError when missing.
PgSettings database_settings(Args& args);

}  // namespace fgac::taskctl
