#include "taskctl/cli.hpp"

#include <algorithm>
#include <cstdlib>

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
