// The rollout dashboard against a real Prometheus scraping the running stack:
// every panel's query must run and return series after a realistic session
// (load, a short authz outage, a dead letter, some bad requests).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <vector>

#include "tests/e2e/checks.hpp"

using namespace fgac::testing;
using namespace std::chrono;

namespace {

std::string url_encoded(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4U];
      out += kHex[c & 0xFU];
    }
  }
  return out;
}

// The value of an instant query that yields one sample, or NaN when it yields none.
double prometheus_value(unsigned short port, const std::string& query) {
  auto r = http_call(port, "GET", "/api/v1/query?query=" + url_encoded(query));
  if (r.status != 200) return std::nan("");
  const auto result = r.json().at("data").at("result");
  if (result.size() != 1) return std::nan("");
  return std::stod(result[0].at("value").at(1).get<std::string>());
}

// The series that the dashboard's rate() and increase() panels read.
constexpr std::array<const char*, 12> kRatedSeries{"task_fgac_dual_write_attempts_total",
                                                   "task_fgac_dual_write_success_total",
                                                   "task_fgac_dual_write_retries_total",
                                                   "task_fgac_dual_write_failures_total",
                                                   "task_fgac_dual_write_lag_seconds_bucket",
                                                   "task_fgac_dual_write_request_duration_seconds_bucket",
                                                   "tasks_created_total",
                                                   "http_requests_total",
                                                   "http_request_duration_seconds_bucket",
                                                   "task_authz_decisions_total",
                                                   "task_authz_checks_total",
                                                   "task_authz_check_duration_seconds_bucket"};

// Prometheus on `port`, scraping the stack's API and worker every second,
// with its config and data in `dir`.
ChildProcess start_prometheus(const Stack& stack, const std::string& dir, unsigned short port) {
  {
    std::ofstream config(dir + "/prometheus.yml");
    config << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
           << "scrape_configs:\n"
           << "  - job_name: task-api\n    static_configs: [{targets: ['127.0.0.1:" << stack.api_monitor_port()
           << "']}]\n"
           << "  - job_name: outbox-worker\n    static_configs: [{targets: ['127.0.0.1:" << stack.worker_monitor_port(0)
           << "']}]\n";
  }
  return ChildProcess("prometheus",
                      {"prometheus", "--config.file=" + dir + "/prometheus.yml", "--storage.tsdb.path=" + dir + "/data",
                       "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                      {});
}

// Load, with a short outage (retries), a permanent rejection (a dead letter)
// and some client errors; then registered tasks read by their creator
// (allowed) and by a stranger (a would-be denial).
void run_session(Stack& stack) {
  for (int i = 0; i < 20; ++i)
    stack.create_task("agent-dash", "d-" + std::to_string(i), i % 2 ? "dev-sa-token" : "dev-user-token");
  stack.authz().set_faults({{"status", 503}, {"ops", {"register", "deregister"}}, {"for_s", 2}});
  for (int i = 20; i < 30; ++i) stack.create_task("agent-dash", "d-" + std::to_string(i));
  // The outage's rows are delivered once it ends (the breaker's first probe after
  // it gets through), before the 400s start: exactly one row meets them.
  REQUIRE(stack.drained(seconds(15)));
  stack.authz().set_faults({{"status", 400}, {"ops", {"register"}}});
  stack.create_task("agent-dash", "d-dead");
  REQUIRE(eventually([&] { return stack.scalar("SELECT count(*) FROM authz_outbox WHERE dead_at IS NOT NULL") == 1; },
                     seconds(10)));
  stack.authz().clear_faults();
  std::vector<std::string> kept;
  for (int i = 30; i < 50; ++i) {
    const auto id = stack.create_task("agent-dash", "d-" + std::to_string(i));
    if (i % 5 == 0) {
      stack.call("DELETE", "/tasks/" + id);
    } else {
      kept.push_back(id);
    }
    stack.call("GET", "/tasks/not-a-uuid");
  }
  REQUIRE(stack.drained(seconds(30)));
  for (const auto& id : kept) {
    CHECK(stack.call("GET", "/tasks/" + id).status == 200);
    CHECK(stack.call("GET", "/tasks/" + id, "", "dev-user2-token").status == 200);  // shadow denies nothing
  }
}

}  // namespace

TEST_CASE("dashboard: every panel's query returns series from Prometheus scraping the stack") {
  // Shadow, as during a rollout: the enforcement row shows decisions without denying anything.
  Stack stack({.api_env = {"FGAC_TASKS_ENFORCE=shadow"}});
  stack.create_agent("agent-dash");
  char dir_template[] = "/tmp/fgac-prom-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  const auto port = free_port();
  const auto prometheus = start_prometheus(stack, dir, port);
  wait_for_http(port, "/-/ready", seconds(30));
  run_session(stack);

  // Prometheus holds the session's final state: its newest scrape of each
  // target shows what that target reports now, and every counter has the two
  // samples within the dashboards' 1m rate() window that a rate needs.
  const double delivered = stack.metric_sum(stack.worker_metrics(), "task_fgac_dual_write_success_total");
  const double created =
      stack.metric_sum(http_call(stack.api_monitor_port(), "GET", "/metrics").body, "tasks_created_total");
  const auto fewest_samples = [&] {
    double fewest = std::numeric_limits<double>::infinity();
    for (const std::string name : kRatedSeries) {
      // A series Prometheus has not scraped yet (NaN) has no samples: wait for it too. The
      // shadow decisions' checks, for one, land after the reads that caused them have answered.
      const double samples = prometheus_value(port, "min(count_over_time(" + name + "[1m]))");
      fewest = std::isnan(samples) ? 0 : std::min(fewest, samples);
    }
    return fewest;
  };
  const auto final_state_scraped = [&] {
    return prometheus_value(port, "sum(task_fgac_dual_write_success_total)") == delivered &&
           prometheus_value(port, "sum(tasks_created_total)") == created &&
           prometheus_value(port, "max(authz_outbox_pending)") == 0 && fewest_samples() >= 2;
  };
  CHECK_MESSAGE(eventually(final_state_scraped, seconds(30)),
                "delivered " << delivered << " vs " << prometheus_value(port, "sum(task_fgac_dual_write_success_total)")
                             << "; created " << created << " vs " << prometheus_value(port, "sum(tasks_created_total)")
                             << "; pending " << prometheus_value(port, "max(authz_outbox_pending)")
                             << "; fewest samples in 1m " << fewest_samples());

  auto result = run_process(
      {source_dir() + "/deploy/tests/check-dashboard", "--prometheus", "http://127.0.0.1:" + std::to_string(port)});
  MESSAGE(result.output);
  CHECK(result.exit_code == 0);
  run_process({"rm", "-rf", dir});
}
