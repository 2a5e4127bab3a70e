// Lifecycle: kill -9 mid-drain loses nothing, a dead worker's lease is taken
// over once it lapses, SIGTERM drains within the grace period and releases
// leases, Postgres restarts are ridden out, and a bad configuration stops the
// worker at start-up.
#include <doctest/doctest.h>

#include "tests/worker/harness.hpp"

using namespace fgac::testing;
using namespace std::chrono;

TEST_CASE("worker: kill -9 in the middle of a drain, then a restart: nothing is lost") {
  OutboxHarness h;
  const auto agent_id = h.create_agent("agent-kill");
  constexpr int kTasks = 60;
  auto ids = h.create_tasks(agent_id, kTasks);
  h.authz().set_faults({{"status", 200}, {"latency_ms", 150}, {"ops", {"register"}}});
  const std::vector<std::string> env{"WORKER_CONCURRENCY=4", "WORKER_BATCH_SIZE=4"};
  {
    auto worker = h.start_worker("w-kill-1", env);
    REQUIRE(eventually([&] { return h.scalar("SELECT count(*) FROM authz_outbox") <= kTasks - 8; }, seconds(10)));
    REQUIRE(h.scalar("SELECT count(*) FROM authz_outbox WHERE leased_by = 'w-kill-1'") > 0);
    worker->process().kill9();
  }
  const auto left = h.scalar("SELECT count(*) FROM authz_outbox");
  CHECK(left > 0);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE leased_by = 'w-kill-1'") > 0);  // orphaned leases
  auto restarted = h.start_worker("w-kill-2", env);
  REQUIRE(h.drained(seconds(30)));
  h.authz().clear_faults();
  for (const auto& id : ids) {
    CAPTURE(id);
    CHECK(h.relations_of(id).contains("owner user:user-alice"));
    CHECK(h.scalar("SELECT count(*) FROM tasks WHERE authz_synced_at IS NOT NULL AND id = '" + id + "'") == 1);
  }
}

TEST_CASE("worker: a row leased by a worker that died is claimed again once the lease lapses, not before") {
  OutboxHarness h;
  const auto agent_id = h.create_agent("agent-lease");
  const auto id = h.create_task(agent_id);
  h.exec(
      "UPDATE authz_outbox SET sent = true, attempts = 1, leased_by = 'dead-worker', "
      "leased_until = now() + interval '2 seconds'");
  const auto started = steady_clock::now();
  auto worker = h.start_worker("w-lease");
  REQUIRE(h.drained(seconds(15)));
  CHECK(steady_clock::now() - started >= milliseconds(1500));  // not before the lease lapsed
  h.expect_registered(id, agent_id);
}

TEST_CASE("worker: SIGTERM lets in-flight calls finish within the grace period, then exits 0") {
  OutboxHarness h;
  auto worker = h.start_worker("w-term-finish", {"WORKER_SHUTDOWN_GRACE_MS=5000"});
  const auto agent_id = h.create_agent("agent-term-finish");
  h.authz().set_faults({{"status", 200}, {"latency_ms", 700}, {"ops", {"register"}}});
  auto ids = h.create_tasks(agent_id, 4);
  // Every call started (a row merely leased may belong to a claim still returning when the signal
  // comes, and a shutdown hands such rows back instead of calling).
  REQUIRE(eventually([&] { return worker->metric("task_fgac_dual_write_attempts_total") == 4; }, seconds(5)));
  CHECK(worker->process().terminate() == 0);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox") == 0);  // all four finished and were completed
  h.authz().clear_faults();
  for (const auto& id : ids) h.expect_registered(id, agent_id);
}

TEST_CASE("worker: SIGTERM with calls outliving the grace period releases their leases and exits 0") {
  OutboxHarness h;
  auto worker = h.start_worker("w-term-release", {"WORKER_SHUTDOWN_GRACE_MS=300"});
  const auto agent_id = h.create_agent("agent-term-release");
  h.authz().set_faults({{"status", 200}, {"latency_ms", 1500}, {"ops", {"register"}}});
  for (int i = 0; i < 3; ++i) h.create_task(agent_id);
  REQUIRE(eventually([&] { return h.scalar("SELECT count(*) FROM authz_outbox WHERE leased_by IS NOT NULL") == 3; },
                     seconds(5)));
  const auto started = steady_clock::now();
  CHECK(worker->process().terminate() == 0);
  CHECK(steady_clock::now() - started < milliseconds(1500));
  // Released, not left to lapse: claimable by the next worker at once.
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE leased_by IS NOT NULL OR leased_until IS NOT NULL") == 0);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox") == 3);
  h.authz().clear_faults();
  auto next = h.start_worker("w-term-next");
  REQUIRE(h.drained(seconds(5)));
}

TEST_CASE("worker: a Postgres restart under a running worker: readiness drops, then it reconnects and delivers") {
  OutboxHarness h;
  auto worker = h.start_worker("w-pg", {"WORKER_POLL_INTERVAL_MS=60000"});  // NOTIFY must come back too
  const auto agent_id = h.create_agent("agent-pg");
  const auto before = h.create_task(agent_id);
  REQUIRE(h.drained(seconds(10)));

  cluster().stop();
  CHECK(eventually([&] { return http_call(worker->monitor_port(), "GET", "/readyz").status == 503; }, seconds(10)));
  CHECK(http_call(worker->monitor_port(), "GET", "/healthz").status == 200);
  // The listener has met the outage too, so what follows shows it re-LISTENing.
  CHECK(eventually(
      [&] { return worker->process().log().find("notification listener lost its connection") != std::string::npos; },
      seconds(10)));
  cluster().start();

  REQUIRE(eventually([&] { return http_call(worker->monitor_port(), "GET", "/readyz").status == 200; }, seconds(15)));
  // The listener re-LISTENs on its new connection: the next insert is noticed without the (one-minute) poll.
  REQUIRE(eventually(
      [&] {
        return h.scalar(
                   "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'outbox-worker-listen' "
                   "AND datname = current_database()") == 1;
      },
      seconds(15)));
  const auto after = h.create_task(agent_id);
  REQUIRE(h.drained(seconds(10)));
  h.expect_registered(before, agent_id);
  h.expect_registered(after, agent_id);
  CHECK(worker->process().running());
}

TEST_CASE("worker: bad configuration stops it at start-up with a clear message and exit code 2") {
  struct Case {
    std::vector<std::string> env;
    std::string message;
  };
  const std::vector<Case> cases{
      {{"AGENTEX_AUTH_URL=http://127.0.0.1:1", "WORKER_LEASE_MS=5000", "AUTHZ_REQUEST_TIMEOUT_MS=4000"},
       "must stay below WORKER_LEASE_MS"},
      {{"AGENTEX_AUTH_URL=http://127.0.0.1:1", "WORKER_LEASE_MS=2000", "AUTHZ_REQUEST_TIMEOUT_MS=10000"},
       "must stay below WORKER_LEASE_MS"},
      {{"AGENTEX_AUTH_URL=http://127.0.0.1:1", "WORKER_CONCURENCY=4"}, "unknown variable WORKER_CONCURENCY"},
      {{"AGENTEX_AUTH_URL=http://127.0.0.1:1", "WORKER_BATCH_SIZE=lots"}, "WORKER_BATCH_SIZE=lots is not an integer"},
      {{"AGENTEX_AUTH_URL=http://127.0.0.1:1", "WORKER_BACKOFF_BASE_MS=5000", "WORKER_BACKOFF_CAP_MS=1000"},
       "WORKER_BACKOFF_BASE_MS must not exceed WORKER_BACKOFF_CAP_MS"},
      {{}, "AGENTEX_AUTH_URL is required"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    std::vector<std::string> env{"DATABASE_URL=postgresql://postgres@127.0.0.1:1/x",
                                 "AUTHZ_SERVICE_TOKEN=secret-token"};
    env.insert(env.end(), c.env.begin(), c.env.end());
    std::vector<std::string> argv{bin_dir() + "/outbox-worker"};
    if (c.env.empty()) argv.insert(argv.begin(), {"env", "-u", "AGENTEX_AUTH_URL"});
    auto r = run_process(argv, env);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(c.message) != std::string::npos);
    CHECK(r.output.find("secret-token") == std::string::npos);
  }
}
