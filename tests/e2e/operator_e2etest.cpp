// End to end for operators: the tasks created while dual-write was off are
// registered by `taskctl backfill` once it is on. Reconcile, outbox status and
// backfill's own rules are tested against a worker in tests/worker/operator_workertest.cpp.
#include <doctest/doctest.h>

#include <regex>

#include "tests/e2e/checks.hpp"

using namespace fgac::testing;

namespace {

// The count that `pattern`'s one group captures in `output`, or -1 when it does not match.
long long count_in(const std::string& output, const std::string& pattern) {
  std::smatch match;
  if (!std::regex_search(output, match, std::regex(pattern))) return -1;
  return std::stoll(match[1].str());
}

}  // namespace

TEST_CASE("backfill: the tasks created while dual-write was off are registered once it is on, and only once") {
  constexpr int kTasks = 25;
  Stack stack({.dual_write = false});
  const auto agent_id = stack.create_agent("agent-backfill");
  std::vector<std::string> ids;
  ids.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) ids.push_back(stack.create_task("agent-backfill", "bf-" + std::to_string(i)));
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox") == 0);

  // A task created with the flag on is delivered: the worker was claiming after
  // the flag-off creates committed, and still nothing of theirs reached authz.
  stack.start_api(true);
  const auto witness = stack.create_task("agent-backfill", "bf-witness");
  REQUIRE(stack.drained());
  expect_registered(stack, witness, agent_id);
  for (const auto& id : ids) {
    CAPTURE(id);
    CHECK(relations_of(stack, id).empty());
    CHECK(stack.authz().calls(id).at("calls").empty());
  }

  auto dry = stack.taskctl({"backfill", "--dry-run"});
  CHECK_MESSAGE(dry.exit_code == 0, dry.output);
  CHECK(count_in(dry.output, R"(would enqueue a register for (\d+) task)") == kTasks);
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox") == 0);
  auto run = stack.taskctl({"backfill", "--batch", "10"});
  CHECK_MESSAGE(run.exit_code == 0, run.output);
  CHECK(count_in(run.output, R"(enqueued (\d+) register)") == kTasks);
  REQUIRE(stack.drained());
  for (const auto& id : ids) expect_registered(stack, id, agent_id, "user:user-alice", false);
  // A second backfill finds nothing left to do.
  CHECK(stack.taskctl({"backfill"}).exit_code == 0);
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox") == 0);
}
