// outbox-worker configuration, validated at start-up.
#pragma once

#include <optional>
#include <string>

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

WorkerConfig load_worker_config(const EnvSource& env);  // throws ConfigError

}  // namespace fgac::worker
