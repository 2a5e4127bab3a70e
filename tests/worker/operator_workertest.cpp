// taskctl for operators, with a real worker delivering what it enqueues:
// backfill, reconcile and outbox status.
#include <doctest/doctest.h>

#include "tests/worker/harness.hpp"

using namespace fgac::testing;
using namespace std::chrono;

TEST_CASE("backfill: enqueues a register for each never-registered task without a row, in batches; idempotent") {
  OutboxHarness h;
  const auto agent_id = h.create_agent("agent-backfill");
  // Created while dual-write was off: no outbox rows.
  std::vector<std::string> users;
  users.reserve(5);
  for (int i = 0; i < 5; ++i) users.push_back(h.create_task(agent_id, {.user_id = "user-alice"}, false));
  const auto by_sa = h.create_task(agent_id, {.service_account_id = "sa-ci"}, false);
  const auto anonymous = h.create_task(agent_id, {}, false);
  // Not candidates: one already synced, one with a pending row.
  const auto synced = h.create_task(agent_id, {.user_id = "user-alice"}, false);
  h.exec("UPDATE tasks SET authz_synced_at = now() WHERE id = '" + synced + "'");
  const auto pending = h.create_task(agent_id);

  auto dry = h.taskctl({"backfill", "--dry-run"});
  CHECK(dry.exit_code == 0);
  CHECK(dry.output.find("would enqueue a register for 7 task(s)") != std::string::npos);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox") == 1);

  auto run = h.taskctl({"backfill", "--batch", "2"});
  CHECK(run.exit_code == 0);
  CHECK(run.output.find("enqueued 7 register(s)") != std::string::npos);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox") == 8);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE desired = 'present' AND generation = 1 AND "
                 "parent_type = 'agent' AND parent_id = '" +
                 agent_id + "'") == 8);
  CHECK(h.text("SELECT principal::text FROM authz_outbox WHERE resource_id = '" + users[0] + "'") ==
        R"({"user_id": "user-alice", "principal_type": "user"})");
  CHECK(h.text("SELECT principal::text FROM authz_outbox WHERE resource_id = '" + by_sa + "'") ==
        R"({"principal_type": "service_account", "service_account_id": "sa-ci"})");
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE resource_id = '" + synced + "'") == 0);
  CHECK(h.taskctl({"backfill"}).output.find("enqueued 0 register(s)") != std::string::npos);
  CHECK(h.taskctl({"backfill", "--batch", "0"}).exit_code == 2);

  auto worker = h.start_worker("w-backfill");
  REQUIRE(h.drained(seconds(15)));
  // The account is not recorded on the task, so a backfilled grant has no tenant tuple.
  for (const auto& id : users) h.expect_registered(id, agent_id, false);
  CHECK(h.authz().check(sa_ci(), by_sa, "read"));
  CHECK(h.relations_of(anonymous).contains("parent_agent agent:" + agent_id));
  CHECK(h.scalar("SELECT count(*) FROM tasks WHERE authz_synced_at IS NULL") == 0);
  (void)pending;
}

TEST_CASE("backfill: paced by the pending rows, killed while it waits, and run again: every task registered once") {
  OutboxHarness h;
  const auto agent_id = h.create_agent("agent-paced");
  constexpr int kTasks = 30;
  h.create_tasks_in_bulk(agent_id, kTasks, false);
  // No worker yet: after two batches of 5 the outbox holds 10 rows, the cap, and the backfill waits.
  ChildProcess paced("taskctl-backfill", {bin_dir() + "/taskctl", "backfill", "--batch", "5", "--max-pending", "10"},
                     {"DATABASE_URL=" + h.database_url()});
  REQUIRE(eventually([&] { return paced.log().find("waiting: 10 rows pending") != std::string::npos; }, seconds(20)));
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox") == 10);
  paced.kill9();
  CHECK(h.taskctl({"backfill", "--max-pending", "-1"}).exit_code == 2);
  CHECK(h.taskctl({"backfill", "--rate", "fast"}).exit_code == 2);
  // Run again with a worker draining: it picks up where the killed run stopped.
  auto worker = h.start_worker("w-paced");
  auto again = h.taskctl({"backfill", "--batch", "5", "--max-pending", "10"});
  CHECK(again.exit_code == 0);
  CHECK(again.output.find("enqueued 20 register(s) for 20 task(s)") != std::string::npos);
  REQUIRE(h.drained(seconds(30)));
  CHECK(h.scalar("SELECT count(*) FROM tasks WHERE authz_synced_at IS NULL") == 0);
  CHECK(worker->metric("task_fgac_dual_write_success_total", {R"(op="register")"}) == kTasks);
}

TEST_CASE("reconcile: finds a registration deleted behind the system's back and repairs it; --dry-run only reports") {
  OutboxHarness h;
  auto worker = h.start_worker("w-reconcile");
  const auto agent_id = h.create_agent("agent-reconcile");
  auto ids = h.create_tasks(agent_id, 4);
  REQUIRE(h.drained(seconds(10)));
  const auto& lost = ids[2];
  // Someone deletes the grant directly at the authz service.
  auto r = http_call(
      h.authz().port(), "POST", "/v1/authz/deregister",
      nlohmann::json{{"principal", alice_principal()}, {"resource", {{"type", "task"}, {"selector", lost}}}}.dump(),
      {{"Content-Type", "application/json"}});
  REQUIRE(r.status == 200);
  REQUIRE_FALSE(h.authz().check(alice(), lost, "read"));

  auto dry = h.taskctl({"reconcile", "--dry-run", "--batch", "3"});
  CHECK(dry.exit_code == 0);
  CHECK(dry.output.find("checked 4 task(s); 1 missing") != std::string::npos);
  CHECK(dry.output.find("would re-enqueue task " + lost) != std::string::npos);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox") == 0);

  auto fix = h.taskctl({"reconcile", "--batch", "3"});
  CHECK(fix.exit_code == 0);
  CHECK(fix.output.find("1 missing their creator's grant, re-enqueued") != std::string::npos);
  REQUIRE(h.drained(seconds(10)));
  h.expect_registered(lost, agent_id, false);
  auto again = h.taskctl({"reconcile"});
  CHECK(again.output.find("checked 4 task(s); 0 missing") != std::string::npos);
}

TEST_CASE("reconcile: without AGENTEX_AUTH_URL it refuses with a usage error") {
  OutboxHarness h;
  auto r = run_process({"env", "-u", "AGENTEX_AUTH_URL", bin_dir() + "/taskctl", "reconcile"},
                       {"DATABASE_URL=" + h.database_url()});
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("AGENTEX_AUTH_URL") != std::string::npos);
}

TEST_CASE("outbox status: pending and dead by op, oldest age, and the table's dead tuples and last autovacuum") {
  OutboxHarness h;
  const auto agent_id = h.create_agent("agent-status");
  for (int i = 0; i < 3; ++i) h.create_task(agent_id);
  const auto gone = h.create_task(agent_id, {.user_id = "user-alice"}, false);
  h.exec("UPDATE tasks SET authz_synced_at = now() WHERE id = '" + gone + "'");  // registered earlier
  h.delete_task(gone);                                                           // enqueues its deregister
  h.exec("UPDATE authz_outbox SET dead_at = now(), last_status = 400 WHERE resource_id = '" + gone + "'");
  auto r = h.taskctl({"outbox", "status"});
  CHECK(r.exit_code == 0);
  INFO(r.output);
  CHECK(r.output.find("register") != std::string::npos);
  CHECK(r.output.find("deregister") != std::string::npos);
  CHECK(r.output.find("total: 3 pending, 1 dead") != std::string::npos);
  CHECK(r.output.find("dead tuples") != std::string::npos);
  CHECK(r.output.find("last autovacuum") != std::string::npos);
  CHECK(h.taskctl({"outbox", "frobnicate"}).exit_code == 2);
}
