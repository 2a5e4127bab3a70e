// Faults from the authz service: retryable classes retry (counted under the
// right exception_class) and never dead-letter; per-event 4xx dead-letter
// after one attempt, keep their status and message, and come back with
// `taskctl outbox requeue`.
#include <doctest/doctest.h>

#include <vector>

#include "tests/worker/harness.hpp"

using namespace fgac::testing;
using namespace std::chrono;

namespace {
constexpr const char* kUnavailable = R"(exception_class="AuthenticationServiceUnavailableError")";
constexpr std::size_t kProbes = 4;
// The rate bound: at most 8 calls per 3 s while the breaker is open.
constexpr double kMinMeanProbeGapMs = 3000.0 / 8;
// The first pause is at least 200 ms; answers to calls already in flight when
// the breaker opened arrive well within it and are not probes.
constexpr double kInFlightAnswersWithinMs = 100;

// When (the server's clock, ms) the authz server answered each logged call, oldest first.
std::vector<double> call_times(OutboxHarness& h) {
  std::vector<double> out;
  const auto body = h.authz().calls();
  for (const auto& c : body.at("calls")) out.push_back(c.at("ts").get<double>());
  return out;
}
}  // namespace

TEST_CASE("worker: 503s and then dropped connections are retried as unavailable, nothing dead, all delivered after") {
  OutboxHarness h;
  auto worker = h.start_worker("w-503");
  const auto agent_id = h.create_agent("agent-503");
  h.authz().set_faults({{"status", 503}, {"ops", {"register"}}});
  auto ids = h.create_tasks(agent_id, 5);
  REQUIRE(eventually([&] { return worker->metric("task_fgac_dual_write_retries_total", {kUnavailable}) >= 10; },
                     seconds(10)));
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE last_status = 503 AND last_exception_class = "
                 "'AuthenticationServiceUnavailableError'") >= 1);

  h.authz().set_faults({{"status", 0}, {"ops", {"register"}}});  // drop the connection
  REQUIRE(eventually(
      [&] {
        return h.scalar(
                   "SELECT count(*) FROM authz_outbox WHERE last_status IS NULL AND last_exception_class = "
                   "'AuthenticationServiceUnavailableError'") >= 1;
      },
      seconds(10)));
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE dead_at IS NOT NULL") == 0);
  CHECK(worker->metric("task_fgac_dual_write_failures_total") == 0);

  h.recover(ids, agent_id);
  CHECK(worker->metric("task_fgac_dual_write_failures_total") == 0);
  CHECK(worker->metric("task_fgac_dual_write_success_total", {R"(op="register")"}) == 5);
  CHECK(worker->metric("task_fgac_dual_write_retries_total", {R"(op="register")", kUnavailable}) >= 10);
}

TEST_CASE("worker: 502 and 429 are retried under their own classes") {
  OutboxHarness h;
  auto worker = h.start_worker("w-502");
  const auto agent_id = h.create_agent("agent-502");
  h.authz().set_faults({{"status", 502}, {"ops", {"register"}}});
  const auto id = h.create_task(agent_id);
  REQUIRE(eventually(
      [&] {
        return worker->metric("task_fgac_dual_write_retries_total",
                              {R"(exception_class="AuthenticationGatewayError")"}) >= 2;
      },
      seconds(10)));
  h.authz().set_faults({{"status", 429}, {"ops", {"register"}}});
  REQUIRE(eventually(
      [&] { return worker->metric("task_fgac_dual_write_retries_total", {R"(exception_class="ServiceError")"}) >= 2; },
      seconds(10)));
  h.recover({id}, agent_id);
  CHECK(worker->metric("task_fgac_dual_write_failures_total") == 0);
}

TEST_CASE("worker: a 400 dead-letters after one attempt, other rows flow, and requeue delivers it") {
  OutboxHarness h;
  const auto agent_id = h.create_agent("agent-400");
  // A task already registered: its deregister will meet the 400.
  const auto doomed = h.create_task(agent_id);
  {
    auto worker = h.start_worker("w-400-setup");
    REQUIRE(h.drained(seconds(10)));
    REQUIRE(worker->process().terminate() == 0);
  }
  h.authz().reset();
  h.authz().set_faults({{"status", 400}, {"ops", {"deregister"}}});
  auto worker = h.start_worker("w-400");
  h.delete_task(doomed);
  auto others = h.create_tasks(agent_id, 3);

  REQUIRE(h.drained(seconds(10)));  // dead rows are not pending
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox") == 1);
  CHECK(h.scalar("SELECT attempts FROM authz_outbox WHERE dead_at IS NOT NULL AND resource_id = '" + doomed + "'") ==
        1);
  CHECK(h.scalar("SELECT last_status FROM authz_outbox WHERE resource_id = '" + doomed + "'") == 400);
  CHECK(h.text("SELECT last_exception_class FROM authz_outbox WHERE resource_id = '" + doomed + "'") == "ServiceError");
  CHECK(h.text("SELECT last_error FROM authz_outbox WHERE resource_id = '" + doomed + "'")
            .value_or("")
            .find("injected fault 400") != std::string::npos);
  CHECK(h.calls_of(doomed) == std::vector<std::pair<std::string, int>>{{"deregister", 400}});
  for (const auto& id : others) h.expect_registered(id, agent_id);
  CHECK(worker->metric("task_fgac_dual_write_failures_total",
                       {R"(op="deregister")", R"(exception_class="ServiceError")"}) == 1);
  REQUIRE(eventually([&] { return worker->metric("authz_outbox_dead") == 1; }, seconds(5)));

  auto dead = h.taskctl({"outbox", "dead"});
  CHECK(dead.exit_code == 0);
  CHECK(dead.output.find(doomed) != std::string::npos);
  CHECK(dead.output.find("status=400") != std::string::npos);
  CHECK(dead.output.find("injected fault 400") != std::string::npos);

  h.authz().clear_faults();
  auto requeue = h.taskctl({"outbox", "requeue", doomed});
  CHECK(requeue.exit_code == 0);
  CHECK(requeue.output.find("requeued 1") != std::string::npos);
  // The requeue's NOTIFY wakes the worker; the deregister goes through.
  REQUIRE(eventually([&] { return h.scalar("SELECT count(*) FROM authz_outbox") == 0; }, seconds(10)));
  h.expect_deregistered(doomed);
  CHECK(h.taskctl({"outbox", "requeue", doomed}).exit_code == 1);  // nothing dead any more
  CHECK(h.taskctl({"outbox", "requeue"}).exit_code == 2);          // usage
}

TEST_CASE("worker: a 401 is retried as AuthenticationError and never dead-lettered") {
  OutboxHarness h;
  auto worker = h.start_worker("w-401");
  const auto agent_id = h.create_agent("agent-401");
  h.authz().set_faults({{"status", 401}});
  const auto id = h.create_task(agent_id);
  REQUIRE(eventually([&] { return h.scalar("SELECT attempts FROM authz_outbox") >= 5; }, seconds(10)));
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE dead_at IS NOT NULL") == 0);
  CHECK(h.scalar("SELECT last_status FROM authz_outbox") == 401);
  CHECK(worker->metric("task_fgac_dual_write_retries_total", {R"(exception_class="AuthenticationError")"}) >= 4);
  CHECK(worker->metric("task_fgac_dual_write_failures_total") == 0);
  h.recover({id}, agent_id);
}

TEST_CASE("worker: a 404 on deregister counts as delivered (already gone)") {
  OutboxHarness h;
  auto worker = h.start_worker("w-404");
  h.authz().set_faults({{"status", 404}, {"ops", {"deregister"}}});
  const auto agent_id = h.create_agent("agent-404");
  const auto id = h.create_task(agent_id, {.user_id = "user-alice"}, false);
  h.exec("UPDATE tasks SET authz_synced_at = now() WHERE id = '" + id + "'");  // registered earlier
  h.delete_task(id);  // registered, no outbox row: enqueues a deregister
  REQUIRE(eventually([&] { return h.scalar("SELECT count(*) FROM authz_outbox") == 0; }, seconds(10)));
  CHECK(h.calls_of(id) == std::vector<std::pair<std::string, int>>{{"deregister", 404}});
  CHECK(worker->metric("task_fgac_dual_write_success_total", {R"(op="deregister")"}) == 1);
}

TEST_CASE("worker: a call that outlives the request timeout is retried as unavailable; its late answer is ignored") {
  OutboxHarness h;
  // Request timeout 2 s (the harness default), lease 4 s: the answer after 2.5 s is too late.
  auto worker = h.start_worker("w-timeout");
  const auto agent_id = h.create_agent("agent-timeout");
  h.authz().set_faults({{"status", 200}, {"latency_ms", 2500}, {"ops", {"register"}}});
  const auto id = h.create_task(agent_id);
  REQUIRE(eventually([&] { return worker->metric("task_fgac_dual_write_retries_total", {kUnavailable}) >= 1; },
                     seconds(8)));
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE last_status IS NULL AND last_exception_class = "
                 "'AuthenticationServiceUnavailableError'") == 1);
  CHECK(h.scalar("SELECT count(*) FROM tasks WHERE authz_synced_at IS NOT NULL") == 0);
  h.recover({id}, agent_id);
  CHECK(worker->metric("task_fgac_dual_write_success_total") == 1);
}

TEST_CASE("worker: while authz is down the circuit breaker holds claims to one probe at a time; recovery is at once") {
  OutboxHarness h;
  auto worker = h.start_worker("w-breaker", {"WORKER_BREAKER_PAUSE_BASE_MS=400", "WORKER_BREAKER_PAUSE_CAP_MS=1000"});
  const auto agent_id = h.create_agent("agent-breaker");
  CHECK(worker->metric("task_fgac_dual_write_breaker_open") == 0);
  h.authz().set_faults({{"status", 503}, {"ops", {"register"}}});
  auto ids = h.create_tasks(agent_id, 40);
  REQUIRE(eventually([&] { return worker->metric("task_fgac_dual_write_breaker_open") == 1; }, seconds(10)));

  // Open: only probes go out, at most one per pause (200-400 ms, then 500-1000 ms).
  // Without the breaker each of the 40 rows would be retried every 25-500 ms,
  // so kProbes calls would arrive within a few milliseconds of each other.
  const auto before = call_times(h);
  REQUIRE_FALSE(before.empty());
  const double opened_ms = before.back();
  std::vector<double> probe_ms;
  REQUIRE(eventually(
      [&] {
        probe_ms.clear();
        for (const double t : call_times(h)) {
          if (t > opened_ms + kInFlightAnswersWithinMs) probe_ms.push_back(t);
        }
        return probe_ms.size() >= kProbes;
      },
      seconds(10)));  // it keeps probing
  const double span_ms = probe_ms[kProbes - 1] - probe_ms[0];
  MESSAGE("" << kProbes << " authz calls with the breaker open took " << span_ms << " ms");
  // At most 8 calls per 3 s (one per 375 ms on average) while it is open.
  CHECK(span_ms >= static_cast<double>(kProbes - 1) * kMinMeanProbeGapMs);
  CHECK(worker->metric("task_fgac_dual_write_breaker_open") == 1);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE dead_at IS NOT NULL") == 0);

  // The first probe that gets through closes it and the backlog drains at full rate.
  h.recover(ids, agent_id);
  CHECK(worker->metric("task_fgac_dual_write_breaker_open") == 0);
  CHECK(worker->metric("task_fgac_dual_write_failures_total") == 0);
  CHECK(worker->metric("task_fgac_dual_write_success_total", {R"(op="register")"}) == 40);
}

TEST_CASE("worker: per-request errors (a 400) never open the circuit breaker") {
  OutboxHarness h;
  auto worker = h.start_worker("w-breaker-400");
  const auto agent_id = h.create_agent("agent-breaker-400");
  h.authz().set_faults({{"status", 400}, {"ops", {"register"}}});
  for (int i = 0; i < 20; ++i) (void)h.create_task(agent_id);
  REQUIRE(eventually([&] { return h.scalar("SELECT count(*) FROM authz_outbox WHERE dead_at IS NOT NULL") == 20; },
                     seconds(10)));
  CHECK(worker->metric("task_fgac_dual_write_breaker_open") == 0);
}
