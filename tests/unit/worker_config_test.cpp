#include <doctest/doctest.h>

#include <map>

#include "outbox_worker/worker_config.hpp"
#include "tests/unit/map_env.hpp"

using namespace fgac::worker;
using std::chrono::milliseconds;

using fgac::testing::MapEnv;

namespace {

std::map<std::string, std::string> minimal() {
  return {{"DATABASE_URL", "postgresql://u@127.0.0.1/db"}, {"AGENTEX_AUTH_URL", "http://127.0.0.1:8090"}};
}

std::string error_for(const std::map<std::string, std::string>& extra) {
  auto env = minimal();
  for (const auto& [name, value] : extra) env[name] = value;
  try {
    (void)load_worker_config(MapEnv(env));
  } catch (const fgac::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("worker config: the defaults are the documented ones") {
  const auto c = load_worker_config(MapEnv(minimal()));
  CHECK(c.batch_size == 100);
  CHECK(c.concurrency == 32);
  CHECK(c.lease == milliseconds(30000));
  CHECK(c.poll_interval == milliseconds(1000));
  CHECK_FALSE(c.poll_only);
  CHECK(c.retry.base == kBackoffBase);
  CHECK(c.retry.cap == kBackoffCap);
  CHECK(c.connect_timeout == milliseconds(2000));
  CHECK(c.request_timeout == milliseconds(10000));
  CHECK(c.shutdown_grace == milliseconds(20000));
  CHECK(c.gauge_refresh == milliseconds(5000));
  CHECK(c.breaker.trip_after == kBreakerTripAfter);
  CHECK(c.breaker.pause.base == kBreakerPauseBase);
  CHECK(c.breaker.pause.cap == kBreakerPauseCap);
  CHECK(c.monitor.port == 8082);
  CHECK_FALSE(c.service_token.has_value());
  CHECK_FALSE(c.worker_id.empty());
}

TEST_CASE("worker config: every variable is read") {
  auto env = minimal();
  env.merge(std::map<std::string, std::string>{{"WORKER_BATCH_SIZE", "7"},
                                               {"WORKER_CONCURRENCY", "3"},
                                               {"WORKER_LEASE_MS", "9000"},
                                               {"WORKER_POLL_INTERVAL_MS", "50"},
                                               {"WORKER_POLL_ONLY", "true"},
                                               {"WORKER_BACKOFF_BASE_MS", "10"},
                                               {"WORKER_BACKOFF_CAP_MS", "20"},
                                               {"WORKER_BREAKER_TRIP_AFTER", "0"},
                                               {"WORKER_BREAKER_PAUSE_BASE_MS", "30"},
                                               {"WORKER_BREAKER_PAUSE_CAP_MS", "40"},
                                               {"AUTHZ_CONNECT_TIMEOUT_MS", "100"},
                                               {"AUTHZ_REQUEST_TIMEOUT_MS", "2000"},
                                               {"WORKER_SHUTDOWN_GRACE_MS", "0"},
                                               {"WORKER_GAUGE_REFRESH_MS", "100"},
                                               {"WORKER_MONITOR_PORT", "9999"},
                                               {"WORKER_ID", "w-1"},
                                               {"AUTHZ_SERVICE_TOKEN", "s3cret"}});
  const auto c = load_worker_config(MapEnv(env));
  CHECK(c.batch_size == 7);
  CHECK(c.concurrency == 3);
  CHECK(c.lease == milliseconds(9000));
  CHECK(c.poll_interval == milliseconds(50));
  CHECK(c.poll_only);
  CHECK(c.retry.base == milliseconds(10));
  CHECK(c.retry.cap == milliseconds(20));
  CHECK(c.breaker.trip_after == 0);
  CHECK(c.breaker.pause.base == milliseconds(30));
  CHECK(c.breaker.pause.cap == milliseconds(40));
  CHECK(c.connect_timeout == milliseconds(100));
  CHECK(c.request_timeout == milliseconds(2000));
  CHECK(c.shutdown_grace == milliseconds(0));
  CHECK(c.gauge_refresh == milliseconds(100));
  CHECK(c.monitor.port == 9999);
  CHECK(c.worker_id == "w-1");
  CHECK(c.service_token == "s3cret");
}

TEST_CASE("worker config: a lease that the request timeout plus the safety margin could outlive is rejected") {
  const auto timeout = std::to_string(10000);
  const auto tight = std::to_string(10000 + kLeaseSafetyMargin.count());  // not strictly below
  CHECK(error_for({{"WORKER_LEASE_MS", tight}, {"AUTHZ_REQUEST_TIMEOUT_MS", timeout}})
            .find("must stay below WORKER_LEASE_MS") != std::string::npos);
  const auto enough = std::to_string(10000 + kLeaseSafetyMargin.count() + 1);
  CHECK(error_for({{"WORKER_LEASE_MS", enough}, {"AUTHZ_REQUEST_TIMEOUT_MS", timeout}}).empty());
}

TEST_CASE("worker config: all problems are reported at once, and the service token never appears in them") {
  const auto message = error_for({{"WORKER_CONCURRENCY", "0"},
                                  {"WORKER_BATCH_SIZE", "many"},
                                  {"WORKER_BACKOFF_BASE_MS", "5000"},
                                  {"WORKER_BACKOFF_CAP_MS", "1000"},
                                  {"WORKER_BREAKER_PAUSE_BASE_MS", "9000"},
                                  {"WORKER_BREAKER_PAUSE_CAP_MS", "1000"},
                                  {"WORKER_CONCURENCY", "4"},
                                  {"AUTHZ_SERVICE_TOKEN", "s3cret"}});
  CHECK(message.find("WORKER_CONCURRENCY") != std::string::npos);
  CHECK(message.find("WORKER_BATCH_SIZE") != std::string::npos);
  CHECK(message.find("WORKER_BACKOFF_BASE_MS must not exceed WORKER_BACKOFF_CAP_MS") != std::string::npos);
  CHECK(message.find("WORKER_BREAKER_PAUSE_BASE_MS must not exceed WORKER_BREAKER_PAUSE_CAP_MS") != std::string::npos);
  CHECK(message.find("WORKER_CONCURENCY") != std::string::npos);
  CHECK(message.find("s3cret") == std::string::npos);
}

TEST_CASE("worker config: DATABASE_URL and AGENTEX_AUTH_URL are required; https takes an optional CA file") {
  CHECK_THROWS_AS(load_worker_config(MapEnv({})), fgac::ConfigError);
  CHECK(error_for({{"AGENTEX_AUTH_URL", "ftp://authz.example"}}).find("AGENTEX_AUTH_URL") != std::string::npos);
  CHECK(error_for({{"AGENTEX_AUTH_URL", "https://authz.example"}, {"AGENTEX_AUTH_CA_FILE", "/nonexistent/ca.pem"}})
            .find("cannot read CA file /nonexistent/ca.pem") != std::string::npos);
  CHECK(error_for({{"AGENTEX_AUTH_CA_FILE", "/nonexistent/ca.pem"}}).find("not https") != std::string::npos);
  auto env = minimal();
  env["AGENTEX_AUTH_URL"] = "https://authz.example:8443";
  CHECK(load_worker_config(MapEnv(env)).authz_url == "https://authz.example:8443");
}

TEST_CASE("worker config: DATABASE_STATEMENTS is prepared or unnamed, and unnamed (a pooler) needs poll-only") {
  CHECK(load_worker_config(MapEnv(minimal())).database.statements == fgac::StatementMode::prepared);
  auto env = minimal();
  env["DATABASE_STATEMENTS"] = "unnamed";
  CHECK_THROWS_WITH_AS(load_worker_config(MapEnv(env)), doctest::Contains("WORKER_POLL_ONLY=true"), fgac::ConfigError);
  env["WORKER_POLL_ONLY"] = "true";
  CHECK(load_worker_config(MapEnv(env)).database.statements == fgac::StatementMode::unnamed);
  env["DATABASE_STATEMENTS"] = "named";
  CHECK_THROWS_WITH_AS(load_worker_config(MapEnv(env)), doctest::Contains("DATABASE_STATEMENTS=named"),
                       fgac::ConfigError);
}
