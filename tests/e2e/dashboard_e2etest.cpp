// The rollout dashboard against a real Prometheus scraping the running stack:
// every panel's query must run and return series after a realistic session
// (load, a short authz outage, a dead letter, some bad requests).
#include <doctest/doctest.h>

#include <fstream>

#include "tests/e2e/checks.hpp"

using namespace fgac::testing;
using namespace std::chrono;

TEST_CASE("dashboard: every panel's query returns series from Prometheus scraping the stack") {
  Stack stack;
  stack.create_agent("agent-dash");
  char dir_template[] = "/tmp/fgac-prom-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  {
    std::ofstream config(dir + "/prometheus.yml");
    config << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
           << "scrape_configs:\n"
           << "  - job_name: task-api\n    static_configs: [{targets: ['127.0.0.1:" << stack.api_monitor_port()
           << "']}]\n"
           << "  - job_name: outbox-worker\n    static_configs: [{targets: ['127.0.0.1:" << stack.worker_monitor_port(0)
           << "']}]\n";
  }
  const auto port = free_port();
  ChildProcess prometheus(
      "prometheus",
      {"prometheus", "--config.file=" + dir + "/prometheus.yml", "--storage.tsdb.path=" + dir + "/data",
       "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      {});
  wait_for_http(port, "/-/ready", seconds(30));

  // Load, with a short outage (retries), a permanent rejection (a dead letter) and some client errors.
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
  for (int i = 30; i < 50; ++i) {
    const auto id = stack.create_task("agent-dash", "d-" + std::to_string(i));
    if (i % 5 == 0) stack.call("DELETE", "/tasks/" + id);
    stack.call("GET", "/tasks/not-a-uuid");
  }
  REQUIRE(stack.drained(seconds(30)));
  std::this_thread::sleep_for(seconds(7));  // several scrapes after the last change

  auto result = run_process(
      {source_dir() + "/deploy/tests/check-dashboard", "--prometheus", "http://127.0.0.1:" + std::to_string(port)});
  MESSAGE(result.output);
  CHECK(result.exit_code == 0);
  run_process({"rm", "-rf", dir});
}
