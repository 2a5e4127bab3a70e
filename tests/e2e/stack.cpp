#include "tests/e2e/stack.hpp"

#include <doctest/doctest.h>

#include <sstream>

#include "tests/support/process.hpp"

namespace fgac::testing {

Stack::Stack(StackOptions options) : options_(std::move(options)), url_(migrated_database()) {
  start_api(options_.dual_write);
  for (int i = 0; i < options_.workers; ++i) {
    worker_ports_.push_back(free_port());
    workers_.emplace_back();
    start_worker(static_cast<std::size_t>(i));
  }
}

Stack::~Stack() {
  for (auto& w : workers_) w.reset();
  api_.reset();
}

void Stack::start_api(bool dual_write) {
  api_.reset();
  api_port_ = free_port();
  api_monitor_port_ = free_port();
  std::vector<std::string> env{"DATABASE_URL=" + url_,
                               "AGENTEX_AUTH_URL=" + authz_.url(),
                               std::string("FGAC_TASKS_DUAL_WRITE=") + (dual_write ? "true" : "false"),
                               "API_ADDR=127.0.0.1",
                               "API_PORT=" + std::to_string(api_port_),
                               "MONITOR_ADDR=127.0.0.1",
                               "API_MONITOR_PORT=" + std::to_string(api_monitor_port_),
                               "LOG_LEVEL=warn"};
  env.insert(env.end(), options_.api_env.begin(), options_.api_env.end());
  api_ = std::make_unique<ChildProcess>("task-api", std::vector<std::string>{bin_dir() + "/task-api"}, env);
  try {
    wait_for_http(api_monitor_port_, "/readyz", std::chrono::seconds(20));
  } catch (const std::exception& e) {
    const std::string message = std::string(e.what()) + "\n" + api_->log();
    FAIL(message);
  }
}

void Stack::stop_api() {
  api_.reset();
}

void Stack::start_worker(std::size_t index) {
  std::vector<std::string> env{"DATABASE_URL=" + url_, "AGENTEX_AUTH_URL=" + authz_.url(), "MONITOR_ADDR=127.0.0.1",
                               "WORKER_MONITOR_PORT=" + std::to_string(worker_ports_.at(index)),
                               "WORKER_ID=e2e-worker-" + std::to_string(index),
                               // Short lease, backoff cap and breaker pause cap: crash recovery and
                               // post-outage drain within seconds.
                               "WORKER_LEASE_MS=4000", "AUTHZ_REQUEST_TIMEOUT_MS=1000", "WORKER_BACKOFF_CAP_MS=1000",
                               "WORKER_BREAKER_PAUSE_CAP_MS=1000", "WORKER_POLL_INTERVAL_MS=250",
                               "WORKER_GAUGE_REFRESH_MS=500", "LOG_LEVEL=warn"};
  env.insert(env.end(), options_.worker_env.begin(), options_.worker_env.end());
  workers_.at(index) =
      std::make_unique<ChildProcess>("outbox-worker", std::vector<std::string>{bin_dir() + "/outbox-worker"}, env);
  try {
    wait_for_http(worker_ports_.at(index), "/readyz", std::chrono::seconds(20));
  } catch (const std::exception& e) {
    const std::string message = std::string(e.what()) + "\n" + workers_.at(index)->log();
    FAIL(message);
  }
}

void Stack::kill9_worker(std::size_t index) {
  workers_.at(index)->kill9();
}

int Stack::stop_worker(std::size_t index) {
  return workers_.at(index)->terminate(std::chrono::seconds(30));
}

std::string Stack::worker_metrics(std::size_t index) {
  return http_call(worker_ports_.at(index), "GET", "/metrics").body;
}

double Stack::metric_sum(const std::string& metrics, const std::string& name, const std::string& labels) {
  double sum = 0;
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : ' ';
    if (next != '{' && next != ' ') continue;  // another metric sharing the prefix
    if (!labels.empty() && line.find(labels) == std::string::npos) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

HttpResult Stack::call(const std::string& method, const std::string& target, const std::string& body,
                       const std::string& token) {
  std::map<std::string, std::string> headers;
  if (!token.empty()) headers["Authorization"] = "Bearer " + token;
  if (!body.empty()) headers["Content-Type"] = "application/json";
  return http_call(api_port_, method, target, body, headers);
}

std::string Stack::create_agent(const std::string& name) {
  return post("/agents", {{"name", name}}).created_id();
}

std::string Stack::create_task(const std::string& agent_name, const std::string& name, const std::string& token) {
  return post("/tasks", {{"agent_name", agent_name}, {"name", name}}, token).created_id();
}

ProcessResult Stack::taskctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{bin_dir() + "/taskctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {"DATABASE_URL=" + url_, "AGENTEX_AUTH_URL=" + authz_.url()});
}

long long Stack::scalar(const std::string& sql) {
  auto conn = pg_connect(settings_for(url_));
  pqxx::nontransaction tx(*conn);
  return tx.exec1(sql)[0].as<long long>();
}

bool Stack::drained(std::chrono::milliseconds timeout) {
  return eventually([&] { return scalar("SELECT count(*) FROM authz_outbox WHERE dead_at IS NULL") == 0; }, timeout);
}

}  // namespace fgac::testing
