// End to end for operators: backfill after a flag-off period, and reconcile.
#include <doctest/doctest.h>

#include "tests/e2e/checks.hpp"

using namespace fgac::testing;

TEST_CASE("e2e h: backfill registers the tasks created while the flag was off") {
  Stack stack({.dual_write = false});
  const auto agent_id = stack.create_agent("agent-backfill");
  std::vector<std::string> ids;
  ids.reserve(25);
  for (int i = 0; i < 25; ++i) ids.push_back(stack.create_task("agent-backfill", "bf-" + std::to_string(i)));
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox") == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(relations_of(stack, ids[0]).empty());

  stack.start_api(true);
  auto dry = stack.taskctl({"backfill", "--dry-run"});
  CHECK_MESSAGE(dry.exit_code == 0, dry.output);
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox") == 0);
  auto run = stack.taskctl({"backfill", "--batch", "10"});
  CHECK_MESSAGE(run.exit_code == 0, run.output);
  CHECK(run.output.find("25") != std::string::npos);
  REQUIRE(stack.drained());
  for (const auto& id : ids) expect_registered(stack, id, agent_id, "user:user-alice", false);
  // A second backfill finds nothing left to do.
  CHECK(stack.taskctl({"backfill"}).exit_code == 0);
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox") == 0);
}

TEST_CASE("e2e h: reconcile finds and repairs a registration deleted behind the system's back") {
  Stack stack;
  const auto agent_id = stack.create_agent("agent-rec");
  const auto kept = stack.create_task("agent-rec", "rec-1");
  const auto broken = stack.create_task("agent-rec", "rec-2");
  REQUIRE(stack.drained());
  expect_registered(stack, broken, agent_id);
  // Someone removes the grant directly in the authz service.
  nlohmann::json body{{"principal", alice()}, {"resource", {{"type", "task"}, {"selector", broken}}}};
  REQUIRE(http_call(stack.authz().port(), "POST", "/v1/authz/deregister", body.dump()).status == 200);
  CHECK_FALSE(stack.authz().check(alice(), broken));

  auto dry = stack.taskctl({"reconcile", "--dry-run"});
  CHECK_MESSAGE(dry.exit_code == 0, dry.output);
  CHECK(dry.output.find(broken) != std::string::npos);
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox") == 0);
  auto run = stack.taskctl({"reconcile"});
  CHECK_MESSAGE(run.exit_code == 0, run.output);
  REQUIRE(stack.drained());
  expect_registered(stack, broken, agent_id, "user:user-alice", false);
  expect_registered(stack, kept, agent_id);
}
