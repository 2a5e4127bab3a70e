// End to end through an authz outage: what only the whole stack can show is
// that the API does not wait on the authorization service. How the worker
// classifies and retries each fault, rides out a Postgres restart or a
// kill -9 is shown by the worker's own tests (tests/worker/).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <iostream>

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

TEST_CASE("outage: while authz answers 503 and then drops connections, API creates are as fast and none is lost") {
  Stack stack;
  const auto agent_id = stack.create_agent("agent-outage");
  std::vector<std::string> ids;
  std::atomic<int> failures{0};
  auto healthy = create_load(stack, "agent-outage", "before-", 200, ids, failures);
  REQUIRE(stack.drained());

  // Each phase: authz answers `status` (0 drops the connection) to everything while 200 creates
  // come in, and lasts until the worker has met that fault: a retry recorded as unavailable
  // (`last_status` is the SQL condition the recorded answer's status meets). Its creates' latencies.
  const auto outage_phase = [&](int status, const std::string& prefix, const std::string& last_status) {
    stack.authz().set_faults({{"status", status}, {"rate", 1.0}, {"ops", {"register", "deregister"}}});
    auto latencies = create_load(stack, "agent-outage", prefix, 200, ids, failures);
    REQUIRE(eventually(
        [&] {
          return stack.scalar("SELECT count(*) FROM authz_outbox WHERE last_status " + last_status +
                              " AND last_exception_class = 'AuthenticationServiceUnavailableError'") > 0;
        },
        seconds(15)));
    return latencies;
  };
  auto during = outage_phase(503, "during-503-", "= 503");
  auto dropped = outage_phase(0, "during-drop-", "IS NULL");
  CHECK(failures.load() == 0);
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox") > 0);  // the backlog built up

  during.insert(during.end(), dropped.begin(), dropped.end());
  std::cout << "outage: API create latency healthy p50 " << percentile(healthy, 0.5) << " ms p99 "
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
