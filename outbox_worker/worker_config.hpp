// outbox-worker configuration, validated at start-up.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.hpp"
#include "common/http_server.hpp"
#include "common/log.hpp"
#include "common/pg_pool.hpp"
#include "outbox_worker/circuit_breaker.hpp"
#include "outbox_worker/retry_policy.hpp"

namespace fgac::worker {

// A call must end this long before its lease does, or it is abandoned.
inline constexpr std::chrono::milliseconds kLeaseSafetyMargin{1500};

struct WorkerConfig {
  PgSettings database;
  HttpServerSettings monitor;
  std::string authz_url;
  std::optional<std::string> authz_ca_file;  // https only: AGENTEX_AUTH_CA_FILE
  std::optional<std::string> service_token;
  std::string worker_id;
  long long batch_size = 100;
  long long concurrency = 32;
  std::chrono::milliseconds lease{30000};
  std::chrono::milliseconds poll_interval{1000};
  bool poll_only = false;
  RetrySettings retry;
  BreakerSettings breaker;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds shutdown_grace{20000};
  std::chrono::milliseconds gauge_refresh{5000};
  log::Level log_level = log::Level::info;
};

// Prefixes whose unknown variables stop the worker at start-up (a likely
// typo). The API's variables (API_*, AUTHN_*) share the ConfigMap and are ignored.
inline const std::vector<std::string_view> kWorkerOwnedPrefixes{"WORKER_", "AUTHZ_"};

// Throws ConfigError naming every problem. `declared`, when given, receives
// every variable the worker reads (the README's table is tested against it).
WorkerConfig load_worker_config(const EnvSource& env, std::vector<EnvVar>* declared = nullptr);

}  // namespace fgac::worker
