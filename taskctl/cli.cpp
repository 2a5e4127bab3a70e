#include "taskctl/cli.hpp"

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "common/env.hpp"

namespace fgac::taskctl {

bool Args::flag(const std::string& name) {
  auto it = std::find(args_.begin(), args_.end(), name);
  if (it == args_.end()) return false;
  args_.erase(it);
  return true;
}

std::optional<std::string> Args::option(const std::string& name) {
  for (auto it = args_.begin(); it != args_.end(); ++it) {
    if (*it == name) {
      if (std::next(it) == args_.end()) throw UsageError(name + " needs a value");
      std::string value = *std::next(it);
      args_.erase(it, it + 2);
      return value;
    }
    if (it->starts_with(name + "=")) {
      std::string value = it->substr(name.size() + 1);
      args_.erase(it);
      return value;
    }
  }
  return std::nullopt;
}

namespace {

// Beyond this a count or a rate is a typo, and a double no longer holds every whole number.
constexpr double kLargestNumber = 1e12;

double parse_number(const std::string& name, const std::string& text, double min, bool fraction) {
  std::size_t used = 0;
  double value = min - 1;
  try {
    value = fraction ? std::stod(text, &used) : static_cast<double>(std::stoll(text, &used));
  } catch (const std::exception&) {
    used = 0;
  }
  // std::stoll and std::stod skip leading white space; an option value may not carry any.
  const bool spaced = text.find_first_of(" \t\n\v\f\r") != std::string::npos;
  if (text.empty() || spaced || used != text.size() || !(value >= min) || value > kLargestNumber) {
    std::ostringstream bound;
    bound << min;
    throw UsageError(name + " must be a " + (fraction ? "number" : "whole number") + " of at least " + bound.str() +
                     ", not '" + text + "'");
  }
  return value;
}

}  // namespace

std::optional<long long> Args::whole(const std::string& name, long long min) {
  const auto text = option(name);
  if (!text) return std::nullopt;
  return static_cast<long long>(parse_number(name, *text, static_cast<double>(min), false));
}

std::optional<double> Args::decimal(const std::string& name, double min) {
  const auto text = option(name);
  if (!text) return std::nullopt;
  return parse_number(name, *text, min, true);
}

std::vector<std::string> Args::positionals() {
  for (const auto& a : args_) {
    if (a.starts_with("--")) throw UsageError("unknown option " + a);
  }
  auto out = args_;
  args_.clear();
  return out;
}

std::string Args::positionals_prefix() {
  for (auto it = args_.begin(); it != args_.end(); ++it) {
    if (!it->starts_with("--")) {
      std::string first = *it;
      args_.erase(it);
      return first;
    }
  }
  return {};
}

void Args::expect_no_more() {
  if (!args_.empty()) throw UsageError("unexpected argument " + args_.front());
}

PgSettings database_settings(Args& args) {
  PgSettings settings;
  if (auto url = args.option("--database-url")) {
    settings.url = *url;
  } else {
    ProcessEnv env;
    EnvReader reader(env);
    auto value = reader.optional_str("DATABASE_URL");
    if (!value) throw UsageError("DATABASE_URL is not set (or pass --database-url)");
    settings.url = *value;
  }
  settings.pool_size = 1;
  settings.application_name = "taskctl";
  return settings;
}

}  // namespace fgac::taskctl
