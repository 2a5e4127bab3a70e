// task-api configuration: environment variables parsed into a typed struct at
// start-up; a bad value stops the process with a message naming it.
#pragma once

#include <optional>

#include "common/env.hpp"
#include "common/http_server.hpp"
#include "common/log.hpp"
#include "common/pg_pool.hpp"
#include "service/authn_client.hpp"

namespace fgac::api {

struct ApiConfig {
  PgSettings database;
  HttpServerSettings http;
  HttpServerSettings monitor;
  std::optional<AuthnSettings> authn;  // unset only with AUTH_DISABLED=true
  std::size_t max_json_depth = 64;
  bool dual_write = false;
  log::Level log_level = log::Level::info;
};

ApiConfig load_api_config(const EnvSource& env);  // throws ConfigError

}  // namespace fgac::api
