// End to end through faults: an authz outage, permanent and systemic errors,
// a Postgres restart, and kill -9 of the worker.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <random>

#include "tests/e2e/checks.hpp"

using namespace fgac::testing;
using namespace std::chrono;

namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

// Creates `n` tasks from 4 threads and returns each request's latency (ms).
std::vector<double> create_load(Stack& stack, const std::string& agent, const std::string& prefix, int n,
                                std::vector<std::string>& ids, std::atomic<int>& failures) {
  std::vector<double> latencies(static_cast<std::size_t>(n));
  std::mutex mutex;
  parallel_for(n, 4, [&](int i) {
    const auto started = steady_clock::now();
    auto r = stack.post("/tasks", {{"agent_name", agent}, {"name", prefix + std::to_string(i)}});
    latencies[static_cast<std::size_t>(i)] = duration<double, std::milli>(steady_clock::now() - started).count();
    if (r.status != 201) {
      failures.fetch_add(1);
      return;
    }
    std::lock_guard lock(mutex);
    ids.push_back(r.json()["id"].get<std::string>());
  });
  return latencies;
}

}  // namespace

TEST_CASE("e2e b: a 15 s authz outage (503, then dropped connections) costs the API nothing and loses nothing") {
  Stack stack;
  const auto agent_id = stack.create_agent("agent-outage");
  std::vector<std::string> ids;
  std::atomic<int> failures{0};
  auto healthy = create_load(stack, "agent-outage", "before-", 200, ids, failures);
  REQUIRE(stack.drained());

  stack.authz().set_faults({{"status", 503}, {"rate", 1.0}, {"ops", {"register", "deregister"}}, {"for_s", 8}});
  const auto outage_started = steady_clock::now();
  auto during = create_load(stack, "agent-outage", "during-503-", 200, ids, failures);
  while (steady_clock::now() - outage_started < seconds(8)) std::this_thread::sleep_for(milliseconds(100));
  stack.authz().set_faults({{"status", 0}, {"rate", 1.0}, {"ops", {"register", "deregister"}}, {"for_s", 7}});
  auto dropped = create_load(stack, "agent-outage", "during-drop-", 200, ids, failures);
  while (steady_clock::now() - outage_started < seconds(15)) std::this_thread::sleep_for(milliseconds(100));
  CHECK(failures.load() == 0);
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox") > 0);  // the backlog built up

  during.insert(during.end(), dropped.begin(), dropped.end());
  std::cout << "e2e b: API create latency healthy p50 " << percentile(healthy, 0.5) << " ms p99 "
            << percentile(healthy, 0.99) << " ms; during outage p50 " << percentile(during, 0.5) << " ms p99 "
            << percentile(during, 0.99) << " ms\n";
  // The API never waits on the authz service: no added latency beyond noise.
  CHECK(percentile(during, 0.5) < std::max(3 * percentile(healthy, 0.5), 25.0));

  stack.authz().clear_faults();
  REQUIRE(stack.drained(seconds(60)));
  for (const auto& id : ids) expect_registered(stack, id, agent_id);
  auto metrics = stack.worker_metrics();
  CHECK(stack.metric_sum(metrics, "task_fgac_dual_write_retries_total",
                         R"(exception_class="AuthenticationServiceUnavailableError")") > 0);
  CHECK(stack.metric_sum(metrics, "task_fgac_dual_write_failures_total") == 0);
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox") == 0);
}

TEST_CASE("e2e f: a 400 dead-letters after one attempt, other rows flow, and requeue delivers it") {
  Stack stack;
  const auto agent_id = stack.create_agent("agent-dead");
  stack.authz().set_faults({{"status", 400}, {"rate", 1.0}, {"ops", {"register"}}});
  const auto bad = stack.create_task("agent-dead", "dead-1");
  REQUIRE(eventually([&] { return stack.scalar("SELECT count(*) FROM authz_outbox WHERE dead_at IS NOT NULL") == 1; },
                     seconds(10)));
  CHECK(stack.scalar("SELECT attempts FROM authz_outbox WHERE resource_id = '" + bad + "'") == 1);
  CHECK(stack.scalar("SELECT last_status FROM authz_outbox WHERE resource_id = '" + bad + "'") == 400);
  CHECK(stack.call("GET", "/tasks/" + bad).json()["authz_status"] == "dead");
  stack.authz().clear_faults();
  const auto good = stack.create_task("agent-dead", "dead-2");
  REQUIRE(stack.drained());
  expect_registered(stack, good, agent_id);
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox WHERE dead_at IS NOT NULL") == 1);
  auto metrics = stack.worker_metrics();
  CHECK(stack.metric_sum(metrics, "task_fgac_dual_write_failures_total", R"(exception_class="ServiceError")") == 1);

  auto listed = stack.taskctl({"outbox", "dead"});
  CHECK(listed.exit_code == 0);
  CHECK(listed.output.find(bad) != std::string::npos);
  auto requeued = stack.taskctl({"outbox", "requeue", bad});
  CHECK_MESSAGE(requeued.exit_code == 0, requeued.output);
  REQUIRE(stack.drained());
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox") == 0);
  expect_registered(stack, bad, agent_id);
}

TEST_CASE("e2e f: a 401 is retried and never dead-lettered") {
  Stack stack;
  const auto agent_id = stack.create_agent("agent-401");
  stack.authz().set_faults({{"status", 401}, {"rate", 1.0}, {"ops", {"register"}}});
  const auto id = stack.create_task("agent-401", "unauth-1");
  REQUIRE(eventually(
      [&] {
        return stack.metric_sum(stack.worker_metrics(), "task_fgac_dual_write_retries_total",
                                R"(exception_class="AuthenticationError")") >= 2;
      },
      seconds(15)));
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox WHERE dead_at IS NOT NULL") == 0);
  stack.authz().clear_faults();
  REQUIRE(stack.drained(seconds(20)));
  expect_registered(stack, id, agent_id);
  CHECK(stack.metric_sum(stack.worker_metrics(), "task_fgac_dual_write_failures_total") == 0);
}

TEST_CASE("e2e g: Postgres restarted under a running worker: it reconnects and carries on") {
  Stack stack;
  const auto agent_id = stack.create_agent("agent-pg");
  const auto before = stack.create_task("agent-pg", "pg-1");
  REQUIRE(stack.drained());
  cluster().stop();
  std::this_thread::sleep_for(seconds(2));
  cluster().start();
  std::string after;
  REQUIRE(eventually(
      [&] {
        auto r = stack.post("/tasks", {{"agent_name", "agent-pg"}, {"name", "pg-2"}});
        if (r.status == 201) after = r.json()["id"].get<std::string>();
        return r.status == 201;
      },
      seconds(20)));
  REQUIRE(stack.drained(seconds(30)));
  expect_registered(stack, before, agent_id);
  expect_registered(stack, after, agent_id);
}

TEST_CASE("e2e c: kill -9 the worker three times during a drain: nothing is lost") {
  Stack stack;
  const auto agent_id = stack.create_agent("agent-crash");
  REQUIRE(stack.stop_worker(0) == 0);
  std::vector<std::string> ids;
  std::atomic<int> failures{0};
  create_load(stack, "agent-crash", "crash-", 600, ids, failures);
  REQUIRE(failures.load() == 0);
  // Slow authz a little so that the drain is long enough to be interrupted.
  stack.authz().set_faults({{"status", 200}, {"rate", 1.0}, {"latency_ms", 20}, {"ops", {"register"}}});
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pause_ms(200, 900);
  for (int kill = 0; kill < 3; ++kill) {
    stack.start_worker(0);
    std::this_thread::sleep_for(milliseconds(pause_ms(rng)));
    stack.kill9_worker(0);
  }
  const auto pending = stack.scalar("SELECT count(*) FROM authz_outbox");
  std::cout << "e2e c: " << pending << " of 600 rows still pending after three kill -9\n";
  stack.authz().clear_faults();
  stack.start_worker(0);
  REQUIRE(stack.drained(seconds(60)));
  for (const auto& id : ids) expect_registered(stack, id, agent_id);
}
