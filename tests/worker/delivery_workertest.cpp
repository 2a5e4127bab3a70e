// Delivery: registers and deregisters reach the authz service in order, the
// generation guard lets the newest desire win, and two workers share a
// backlog without ever reordering a task's calls.
#include <doctest/doctest.h>

#include "tests/worker/harness.hpp"

using namespace fgac::testing;
using namespace std::chrono;

TEST_CASE("worker: a register then a deregister are delivered in order and leave the graph right") {
  OutboxHarness h;
  auto worker = h.start_worker("w-order");
  const auto agent_id = h.create_agent("agent-order");
  const auto id = h.create_task(agent_id);

  REQUIRE(h.drained(seconds(10)));
  h.expect_registered(id, agent_id);
  // The register's zedtoken is written back onto the task with authz_synced_at.
  CHECK(h.text("SELECT authz_zedtoken FROM tasks WHERE id = '" + id + "'").has_value());
  CHECK(h.scalar("SELECT count(*) FROM tasks WHERE authz_synced_at IS NOT NULL AND id = '" + id + "'") == 1);

  h.delete_task(id);  // delivered: the row is gone, so a deregister is enqueued
  REQUIRE(h.drained(seconds(10)));
  h.expect_deregistered(id);
  CHECK(h.calls_of(id) == std::vector<std::pair<std::string, int>>{{"register", 200}, {"deregister", 200}});
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox") == 0);
  CHECK(worker->metric("task_fgac_dual_write_success_total", {R"(op="register")"}) == 1);
  CHECK(worker->metric("task_fgac_dual_write_success_total", {R"(op="deregister")"}) == 1);
  CHECK(worker->metric("task_fgac_dual_write_attempts_total") == 2);
  CHECK(worker->metric("task_fgac_dual_write_lag_seconds_count", {R"(op="register")"}) == 1);
  CHECK(worker->metric("task_fgac_dual_write_request_duration_seconds_count") == 2);
}

TEST_CASE("worker: NOTIFY wakes it at once; with a one-minute poll a row is still delivered within a second or two") {
  OutboxHarness h;
  auto worker = h.start_worker("w-notify", {"WORKER_POLL_INTERVAL_MS=60000"});
  const auto agent_id = h.create_agent("agent-notify");
  const auto started = steady_clock::now();
  const auto id = h.create_task(agent_id);
  REQUIRE(h.drained(seconds(10)));
  CHECK(steady_clock::now() - started < seconds(3));
  h.expect_registered(id, agent_id);
}

TEST_CASE("worker: poll-only mode (no LISTEN, as behind PgBouncer) delivers on the poll") {
  OutboxHarness h;
  auto worker = h.start_worker("w-poll", {"WORKER_POLL_ONLY=true", "WORKER_POLL_INTERVAL_MS=200"});
  const auto agent_id = h.create_agent("agent-poll");
  const auto id = h.create_task(agent_id);
  REQUIRE(h.drained(seconds(10)));
  h.expect_registered(id, agent_id);
  CHECK(h.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'outbox-worker-listen' "
                 "AND datname = current_database()") == 0);
}

TEST_CASE("worker: a delete while the register is in flight wins; the old generation is never completed") {
  OutboxHarness h;
  // A one-minute poll: only the worker's own wake-up after the missed guard can pick the newer desire up promptly.
  auto worker = h.start_worker("w-gen", {"WORKER_POLL_INTERVAL_MS=60000"});
  const auto agent_id = h.create_agent("agent-gen");
  // Slow registers (within the request timeout): the delete lands while the call is in flight.
  h.authz().set_faults({{"status", 200}, {"latency_ms", 1000}, {"ops", {"register"}}});
  const auto id = h.create_task(agent_id);
  REQUIRE(
      eventually([&] { return h.scalar("SELECT count(*) FROM authz_outbox WHERE sent AND leased_by = 'w-gen'") == 1; },
                 seconds(5)));
  h.delete_task(id);
  CHECK(h.scalar("SELECT generation FROM authz_outbox WHERE resource_id = '" + id + "'") == 2);

  // The register's completion misses the guard and frees the row: the
  // deregister follows at once, not after the 4 s lease lapses.
  const auto flipped = steady_clock::now();
  REQUIRE(h.drained(seconds(10)));
  CHECK(steady_clock::now() - flipped < milliseconds(2500));
  h.expect_deregistered(id);
  CHECK(h.calls_of(id) == std::vector<std::pair<std::string, int>>{{"register", 200}, {"deregister", 200}});
  // The task is gone: nothing was written back, and only the deregister counts as a success.
  CHECK(worker->metric("task_fgac_dual_write_success_total", {R"(op="register")"}) == 0);
  CHECK(worker->metric("task_fgac_dual_write_success_total", {R"(op="deregister")"}) == 1);
}

TEST_CASE("worker: a create and delete before any delivery cause no authz call at all") {
  OutboxHarness h;
  const auto agent_id = h.create_agent("agent-coalesce");
  const auto id = h.create_task(agent_id);
  h.delete_task(id);  // never sent: the row is simply dropped
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox") == 0);
  auto worker = h.start_worker("w-coalesce");
  const auto other = h.create_task(agent_id);
  REQUIRE(h.drained(seconds(10)));
  h.expect_registered(other, agent_id);
  CHECK(h.relations_of(other).size() == 3);  // owner, parent agent, tenant: nothing else
  CHECK(h.calls_of(id).empty());
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox") == 0);
}

TEST_CASE("worker: two workers drain one backlog; each change is delivered once and in order") {
  OutboxHarness h;
  const auto agent_id = h.create_agent("agent-two");
  constexpr int kTasks = 120;
  auto ids = h.create_tasks(agent_id, kTasks);
  // Some latency so both workers hold calls in flight at the same time.
  h.authz().set_faults({{"status", 200}, {"latency_ms", 20}});
  auto a = h.start_worker("w-a", {"WORKER_CONCURRENCY=8", "WORKER_BATCH_SIZE=4"});
  auto b = h.start_worker("w-b", {"WORKER_CONCURRENCY=8", "WORKER_BATCH_SIZE=4"});
  // Delete every third task while the registers drain: sent ones flip, unsent ones vanish.
  for (int i = 0; i < kTasks; i += 3) h.delete_task(ids[static_cast<std::size_t>(i)]);
  REQUIRE(h.drained(seconds(40)));
  h.authz().clear_faults();

  const double by_a = a->metric("task_fgac_dual_write_success_total");
  const double by_b = b->metric("task_fgac_dual_write_success_total");
  CHECK(by_a > 0);
  CHECK(by_b > 0);
  for (int i = 0; i < kTasks; ++i) {
    const auto& id = ids[static_cast<std::size_t>(i)];
    CAPTURE(id);
    const auto calls = h.calls_of(id);
    int registers = 0;
    int deregisters = 0;
    for (const auto& [op, status] : calls) {
      CHECK(status == 200);
      if (op == "register") {
        CHECK_MESSAGE(deregisters == 0, "a register after the deregister");
        ++registers;
      } else {
        ++deregisters;
      }
    }
    CHECK(registers <= 1);
    if (i % 3 == 0) {
      CHECK(deregisters == (registers == 1 ? 1 : 0));  // no deregister without a register before it
      CHECK(h.relations_of(id).empty());
    } else {
      CHECK(registers == 1);
      CHECK(deregisters == 0);
      CHECK(h.relations_of(id).contains("owner user:user-alice"));
    }
  }
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox") == 0);
}

TEST_CASE("worker: drains a backlog of 2,000 registers with the default concurrency and batch size") {
  OutboxHarness h;
  const auto agent_id = h.create_agent("agent-backlog");
  constexpr int kRows = 2000;
  h.create_tasks_in_bulk(agent_id, kRows, true);
  const auto started = steady_clock::now();
  auto worker = h.start_worker("w-backlog", {"WORKER_CONCURRENCY=32", "WORKER_BATCH_SIZE=100"});
  REQUIRE(h.drained(seconds(90)));
  const double seconds_taken = duration<double>(steady_clock::now() - started).count();
  MESSAGE("drained " << kRows << " registers in " << seconds_taken << " s (" << kRows / seconds_taken
                     << " rows/s, including worker start-up)");
  CHECK(h.scalar("SELECT count(*) FROM tasks WHERE authz_synced_at IS NULL") == 0);
  CHECK(worker->metric("task_fgac_dual_write_success_total", {R"(op="register")"}) == kRows);
  CHECK(worker->metric("task_fgac_dual_write_retries_total") == 0);
  // Group commit: deliveries that finished together shared one completion statement.
  const double statements = worker->metric("task_fgac_dual_write_completion_batch_rows_count");
  CHECK(worker->metric("task_fgac_dual_write_completion_batch_rows_sum") == kRows);
  CHECK(statements < kRows / 2.0);
  MESSAGE("completion statements: " << statements << " (" << kRows / statements << " deliveries each)");
}
