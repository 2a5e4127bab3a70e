// End to end: the API writes, the worker delivers, SpiceDB ends right. The
// worker's delivery rules on their own (order, coalescing, the generation
// guard, two workers) are tested in tests/worker/delivery_workertest.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include "tests/e2e/checks.hpp"

using namespace fgac::testing;

TEST_CASE(
    "load: 1,000 creates and 300 deletes through the API with two workers end registered, deregistered and in order") {
  Stack stack({.workers = 2});
  const auto agent_id = stack.create_agent("agent-load");
  constexpr int kCreates = 1000;
  constexpr int kDeletes = 300;
  std::vector<std::string> ids(kCreates);
  std::atomic<int> failures{0};
  parallel_for(kCreates, 8, [&](int i) {
    auto r = stack.post("/tasks", {{"agent_name", "agent-load"}, {"name", "load-" + std::to_string(i)}});
    if (r.status != 201) {
      failures.fetch_add(1);
      return;
    }
    ids[static_cast<std::size_t>(i)] = r.json()["id"].get<std::string>();
  });
  REQUIRE(failures.load() == 0);
  // Delete every third task among the first 900: some before delivery, some after.
  std::vector<std::string> deleted;
  deleted.reserve(kDeletes);
  for (int i = 0; i < kDeletes; ++i) deleted.push_back(ids[static_cast<std::size_t>(i) * 3]);
  parallel_for(kDeletes, 8, [&](int i) {
    if (stack.call("DELETE", "/tasks/" + deleted[static_cast<std::size_t>(i)]).status != 200) failures.fetch_add(1);
  });
  REQUIRE(failures.load() == 0);

  REQUIRE(stack.drained(std::chrono::seconds(120)));
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox") == 0);
  CHECK(stack.scalar("SELECT count(*) FROM tasks WHERE authz_synced_at IS NULL OR authz_zedtoken IS NULL") == 0);

  std::set<std::string> gone(deleted.begin(), deleted.end());
  for (const auto& id : ids) {
    if (gone.contains(id)) {
      expect_deregistered(stack, id);
    } else {
      expect_registered(stack, id, agent_id);
    }
    expect_ordered_calls(stack, id);
  }
  // Both workers took part.
  CHECK(stack.metric_sum(stack.worker_metrics(0), "task_fgac_dual_write_success_total") > 0);
  CHECK(stack.metric_sum(stack.worker_metrics(1), "task_fgac_dual_write_success_total") > 0);
  const double failed = stack.metric_sum(stack.worker_metrics(0), "task_fgac_dual_write_failures_total") +
                        stack.metric_sum(stack.worker_metrics(1), "task_fgac_dual_write_failures_total");
  CHECK(failed == 0);
}

TEST_CASE("sync: after a create the API shows the task synced with a zedtoken, and its creator may read it") {
  Stack stack;
  const auto agent_id = stack.create_agent("agent-sync");
  const auto id = stack.create_task("agent-sync", "sync-1", "dev-sa-token");
  nlohmann::json task;
  CHECK(eventually(
      [&] {
        task = stack.call("GET", "/tasks/" + id).json();
        return task["authz_status"] == "synced";
      },
      std::chrono::seconds(5)));
  CHECK(task["authz_zedtoken"].is_string());
  expect_registered(stack, id, agent_id, "service_account:sa-ci");
}

TEST_CASE("enforce: 500 creates each followed at once by its creator's GET, zero false 404s, while the worker syncs") {
  Stack stack({.api_env = {"FGAC_TASKS_ENFORCE=enforce"}});
  stack.create_agent("agent-enforce");
  int false_404 = 0;
  int other = 0;
  for (int i = 0; i < 500; ++i) {
    const auto id = stack.create_task("agent-enforce", "enf-" + std::to_string(i));
    const auto status = stack.call("GET", "/tasks/" + id).status;
    if (status == 404) ++false_404;
    if (status != 200 && status != 404) ++other;
  }
  CHECK(false_404 == 0);
  CHECK(other == 0);
  REQUIRE(stack.drained());
  // Synced now: SpiceDB decides, and a stranger is still refused.
  const auto id = stack.create_task("agent-enforce", "enf-last");
  REQUIRE(stack.drained());
  CHECK(stack.call("GET", "/tasks/" + id).status == 200);
  CHECK(stack.call("GET", "/tasks/" + id, "", "dev-user2-token").status == 404);
}
