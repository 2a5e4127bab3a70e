#include "outbox_worker/worker_config.hpp"

#include <unistd.h>

#include "common/http_client.hpp"

namespace fgac::worker {

namespace {
std::string default_worker_id() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + "-" + std::to_string(getpid());
}

// The database and the authz service it calls.
void read_connections(EnvReader& r, WorkerConfig& c) {
  c.database.url = r.required_str("DATABASE_URL", "libpq URI");
  c.database.application_name = "outbox-worker";
  c.database.statements = read_statement_mode(r);
  c.authz_url = r.required_str("AGENTEX_AUTH_URL", "where register and deregister go");
  c.authz_ca_file = r.optional_str("AGENTEX_AUTH_CA_FILE", "PEM bundle for an https:// authz service");
  if (!c.authz_url.empty()) {
    try {
      (void)HttpClient(HttpClientSettings{.base_url = c.authz_url, .ca_file = c.authz_ca_file});
    } catch (const std::exception& e) {
      r.fail(std::string("AGENTEX_AUTH_URL: ") + e.what());
    }
  }
  c.service_token = r.optional_str("AUTHZ_SERVICE_TOKEN", "sent as Authorization: Bearer; never logged or stored");
}

// Claims, calls in flight, leases, polling, retries and the breaker.
void read_delivery(EnvReader& r, WorkerConfig& c) {
  using std::chrono::milliseconds;
  c.worker_id = r.str("WORKER_ID", default_worker_id(), "recorded as leased_by");
  c.batch_size = r.integer("WORKER_BATCH_SIZE", 100, 1, 10000, "most rows per claim");
  c.concurrency = r.integer("WORKER_CONCURRENCY", 32, 1, 4096, "calls in flight");
  c.lease = r.millis("WORKER_LEASE_MS", milliseconds(30000), milliseconds(1000), milliseconds(3600000),
                     "lease per claimed row");
  c.poll_interval = r.millis("WORKER_POLL_INTERVAL_MS", milliseconds(1000), milliseconds(10), milliseconds(600000),
                             "safety-net poll");
  c.poll_only = r.boolean("WORKER_POLL_ONLY", false, "no LISTEN (behind PgBouncer in transaction mode)");
  if (c.database.statements == StatementMode::unnamed && !c.poll_only) {
    // LISTEN holds session state: through a transaction pooler it would never hear a NOTIFY.
    r.fail("DATABASE_STATEMENTS=unnamed (a transaction pooler) needs WORKER_POLL_ONLY=true");
  }
  c.retry.base =
      r.millis("WORKER_BACKOFF_BASE_MS", kBackoffBase, milliseconds(1), milliseconds(600000), "first retry delay");
  c.retry.cap =
      r.millis("WORKER_BACKOFF_CAP_MS", kBackoffCap, milliseconds(1), milliseconds(86400000), "longest retry delay");
  c.breaker.trip_after = static_cast<int>(r.integer("WORKER_BREAKER_TRIP_AFTER", kBreakerTripAfter, 0, 100000,
                                                    "unavailable answers in a row that open the breaker"));
  c.breaker.pause.base = r.millis("WORKER_BREAKER_PAUSE_BASE_MS", kBreakerPauseBase, milliseconds(1),
                                  milliseconds(600000), "pause before the first probe");
  c.breaker.pause.cap = r.millis("WORKER_BREAKER_PAUSE_CAP_MS", kBreakerPauseCap, milliseconds(1), milliseconds(600000),
                                 "longest pause between probes");
}

// Per-call deadlines, shutdown, gauges and the monitor listener.
void read_timeouts_and_monitor(EnvReader& r, WorkerConfig& c) {
  using std::chrono::milliseconds;
  c.connect_timeout = r.millis("AUTHZ_CONNECT_TIMEOUT_MS", milliseconds(2000), milliseconds(10), milliseconds(600000),
                               "connect deadline per call");
  c.request_timeout = r.millis("AUTHZ_REQUEST_TIMEOUT_MS", milliseconds(10000), milliseconds(10), milliseconds(600000),
                               "deadline per call");
  c.shutdown_grace = r.millis("WORKER_SHUTDOWN_GRACE_MS", milliseconds(20000), milliseconds(0), milliseconds(3600000),
                              "on SIGTERM: time for in-flight calls");
  c.gauge_refresh = r.millis("WORKER_GAUGE_REFRESH_MS", milliseconds(5000), milliseconds(100), milliseconds(600000),
                             "outbox gauge refresh interval");
  c.database.pool_size = 4;
  c.monitor.name = "monitor";
  c.monitor.address = r.str("MONITOR_ADDR", "0.0.0.0", "monitor listen address");
  c.monitor.port = r.port("WORKER_MONITOR_PORT", 8082, "monitor port: /healthz, /readyz, /metrics");
  c.monitor.max_connections = 64;
}

// Rules across variables.
void check_consistency(EnvReader& r, const WorkerConfig& c) {
  if (c.retry.base > c.retry.cap) r.fail("WORKER_BACKOFF_BASE_MS must not exceed WORKER_BACKOFF_CAP_MS");
  if (c.breaker.pause.base > c.breaker.pause.cap) {
    r.fail("WORKER_BREAKER_PAUSE_BASE_MS must not exceed WORKER_BREAKER_PAUSE_CAP_MS");
  }
  // A call that could outlive its lease might complete after another worker re-claimed the row.
  if (c.request_timeout + kLeaseSafetyMargin >= c.lease) {
    r.fail("AUTHZ_REQUEST_TIMEOUT_MS (" + std::to_string(c.request_timeout.count()) + ") plus the " +
           std::to_string(kLeaseSafetyMargin.count()) + " ms safety margin must stay below WORKER_LEASE_MS (" +
           std::to_string(c.lease.count()) + ")");
  }
}

void read_log_level(EnvReader& r, WorkerConfig& c) {
  try {
    c.log_level = log::parse_level(r.str("LOG_LEVEL", "info", "debug, info, warn or error"));
  } catch (const std::exception& e) {
    r.fail(std::string("LOG_LEVEL: ") + e.what());
  }
}

}  // namespace

WorkerConfig load_worker_config(const EnvSource& env, std::vector<EnvVar>* declared) {
  EnvReader r(env);
  WorkerConfig c;
  read_connections(r, c);
  read_delivery(r, c);
  read_timeouts_and_monitor(r, c);
  check_consistency(r, c);
  read_log_level(r, c);
  r.reject_unknown(kWorkerOwnedPrefixes);
  if (declared) *declared = r.declared();
  r.finish();
  return c;
}

}  // namespace fgac::worker
