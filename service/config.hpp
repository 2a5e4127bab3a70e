// task-api configuration: environment variables parsed into a typed struct at
// start-up; a bad value stops the process with a message naming it.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "common/env.hpp"
#include "common/http_server.hpp"
#include "common/log.hpp"
#include "common/pg_pool.hpp"
#include "service/authn_client.hpp"
#include "service/authorization.hpp"
#include "service/authz_checker.hpp"

namespace fgac::api {

struct ApiConfig {
  PgSettings database;
  HttpServerSettings http;
  HttpServerSettings monitor;
  std::optional<AuthnSettings> authn;  // unset only with AUTH_DISABLED=true
  std::size_t max_json_depth = 64;
  std::chrono::milliseconds shutdown_grace{10000};
  bool dual_write = false;
  EnforceMode enforce = EnforceMode::off;  // FGAC_TASKS_ENFORCE
  CheckerSettings checker;
  ListMode list_mode = ListMode::creator;  // FGAC_TASKS_LIST_MODE
  int list_lookup_limit = 1000;            // most ids one lookup may answer (more: 503)
  std::size_t shadow_max_in_flight = 32;   // shadow decisions computed at once; more are dropped
  log::Level log_level = log::Level::info;
};

// Prefixes whose unknown variables stop the API at start-up (a likely typo).
// Other binaries' variables (WORKER_*, AUTHZ_*) share the ConfigMap and are ignored.
inline const std::vector<std::string_view> kApiOwnedPrefixes{"API_", "AUTHN_", "FGAC_TASKS_"};

// Throws ConfigError naming every problem. `declared`, when given, receives
// every variable the API reads (the README's table is tested against it).
ApiConfig load_api_config(const EnvSource& env, std::vector<EnvVar>* declared = nullptr);

}  // namespace fgac::api
