// The worker's own guarantees: the generation guard, lease expiry, shutdown,
// poll-only mode and configuration checks.
#include <doctest/doctest.h>

#include "tests/e2e/checks.hpp"

using namespace fgac::testing;
using namespace std::chrono;

TEST_CASE("worker: a delete while the register is in flight wins; the register is never applied after it") {
  Stack stack;
  const auto agent_id = stack.create_agent("agent-gen");
  // Slow registers (within the 1 s request timeout): the delete lands while the call is in flight.
  stack.authz().set_faults({{"status", 200}, {"latency_ms", 800}, {"ops", {"register"}}});
  const auto id = stack.create_task("agent-gen", "gen-1");
  REQUIRE(eventually(
      [&] { return stack.scalar("SELECT count(*) FROM authz_outbox WHERE sent AND leased_by IS NOT NULL") == 1; },
      seconds(5)));
  REQUIRE(stack.call("DELETE", "/tasks/" + id).status == 200);
  CHECK(stack.scalar("SELECT generation FROM authz_outbox WHERE resource_id = '" + id + "'") == 2);
  REQUIRE(stack.drained(seconds(20)));
  stack.authz().clear_faults();
  expect_deregistered(stack, id);
  expect_ordered_calls(stack, id);
  auto calls = stack.authz().calls(id).at("calls");
  REQUIRE(calls.size() == 2);
  CHECK(calls[0]["op"] == "register");
  CHECK(calls[1]["op"] == "deregister");
  (void)agent_id;
}

TEST_CASE("worker: a row leased by a worker that died is claimed again once the lease lapses") {
  Stack stack;
  const auto agent_id = stack.create_agent("agent-lease");
  REQUIRE(stack.stop_worker(0) == 0);
  const auto id = stack.create_task("agent-lease", "lease-1");
  stack.scalar(
      "WITH u AS (UPDATE authz_outbox SET sent = true, attempts = 1, leased_by = 'dead-worker', "
      "leased_until = now() + interval '2 seconds' RETURNING 1) SELECT count(*) FROM u");
  const auto started = steady_clock::now();
  stack.start_worker(0);
  REQUIRE(stack.drained(seconds(15)));
  CHECK(steady_clock::now() - started >= milliseconds(1500));  // not before the lease lapsed
  expect_registered(stack, id, agent_id);
}

TEST_CASE("worker: SIGTERM lets in-flight calls finish within the grace period, releases leases, exits 0") {
  Stack stack({.worker_env = {"WORKER_SHUTDOWN_GRACE_MS=500"}});
  stack.create_agent("agent-term");
  stack.authz().set_faults({{"status", 200}, {"latency_ms", 1200}, {"ops", {"register"}}});
  for (int i = 0; i < 5; ++i) stack.create_task("agent-term", "term-" + std::to_string(i));
  REQUIRE(eventually([&] { return stack.scalar("SELECT count(*) FROM authz_outbox WHERE leased_by IS NOT NULL") == 5; },
                     seconds(5)));
  const auto started = steady_clock::now();
  CHECK(stack.stop_worker(0) == 0);
  CHECK(steady_clock::now() - started < seconds(3));
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox WHERE leased_by IS NOT NULL") == 0);
  stack.authz().clear_faults();
  stack.start_worker(0);
  REQUIRE(stack.drained(seconds(20)));
}

TEST_CASE("worker: poll-only mode (no LISTEN, as behind PgBouncer) still delivers") {
  Stack stack({.worker_env = {"WORKER_POLL_ONLY=true", "WORKER_POLL_INTERVAL_MS=200"}});
  const auto agent_id = stack.create_agent("agent-poll");
  const auto id = stack.create_task("agent-poll", "poll-1");
  REQUIRE(stack.drained(seconds(10)));
  expect_registered(stack, id, agent_id);
}

TEST_CASE("worker: bad configuration stops it at start-up with a clear message") {
  struct Case {
    std::vector<std::string> env;
    std::string message;
  };
  const std::vector<Case> cases{
      {{"AGENTEX_AUTH_URL=http://127.0.0.1:1", "WORKER_LEASE_MS=2000", "AUTHZ_REQUEST_TIMEOUT_MS=10000"},
       "must stay below WORKER_LEASE_MS"},
      {{"AGENTEX_AUTH_URL=http://127.0.0.1:1", "WORKER_CONCURENCY=4"}, "unknown variable WORKER_CONCURENCY"},
      {{"AGENTEX_AUTH_URL=http://127.0.0.1:1", "WORKER_BATCH_SIZE=lots"}, "WORKER_BATCH_SIZE=lots is not an integer"},
      {{"AGENTEX_AUTH_URL=https://authz.example"}, "AGENTEX_AUTH_URL"},
      {{}, "AGENTEX_AUTH_URL is required"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    std::vector<std::string> env{"DATABASE_URL=postgresql://postgres@127.0.0.1:1/x"};
    env.insert(env.end(), c.env.begin(), c.env.end());
    auto r = run_process({"env", "-u", "AGENTEX_AUTH_URL", bin_dir() + "/outbox-worker"}, env);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(c.message) != std::string::npos);
  }
  auto api = run_process({"env", "-u", "AGENTEX_AUTH_URL", "-u", "AUTH_DISABLED", bin_dir() + "/task-api"},
                         {"DATABASE_URL=postgresql://postgres@127.0.0.1:1/x"});
  CHECK(api.exit_code == 2);
  CHECK(api.output.find("AGENTEX_AUTH_URL is required (set AUTH_DISABLED=true only for development)") !=
        std::string::npos);
}
