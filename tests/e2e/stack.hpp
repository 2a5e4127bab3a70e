// The whole stack as separate processes: the harness's PostgreSQL, the
// reference authz server (real SpiceDB engine), task-api and outbox-worker(s).
#pragma once

#include <memory>
#include <vector>

#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/services.hpp"

namespace fgac::testing {

struct StackOptions {
  bool dual_write = true;
  int workers = 1;
  std::vector<std::string> worker_env;  // extra KEY=VALUE for every worker
  std::vector<std::string> api_env;     // extra KEY=VALUE for task-api
};

class Stack {
 public:
  explicit Stack(StackOptions options = {});
  ~Stack();

  // task-api
  void start_api(bool dual_write);
  void stop_api();
  HttpResult call(const std::string& method, const std::string& target, const std::string& body = "",
                  const std::string& token = "dev-user-token");
  HttpResult post(const std::string& target, const nlohmann::json& body, const std::string& token = "dev-user-token") {
    return call("POST", target, body.dump(), token);
  }
  std::string create_agent(const std::string& name);
  std::string create_task(const std::string& agent_name, const std::string& name,
                          const std::string& token = "dev-user-token");

  // outbox-worker(s)
  void start_worker(std::size_t index);
  void kill9_worker(std::size_t index);
  int stop_worker(std::size_t index);  // SIGTERM; returns the exit code
  [[nodiscard]] unsigned short worker_monitor_port(std::size_t index) const { return worker_ports_.at(index); }
  std::string worker_metrics(std::size_t index = 0);
  // Sum of a metric's samples whose label set contains `labels` (e.g. R"(op="register")").
  double metric_sum(const std::string& metrics, const std::string& name, const std::string& labels = "");

  // taskctl with this stack's environment.
  ProcessResult taskctl(const std::vector<std::string>& args);

  long long scalar(const std::string& sql);
  // Waits until the outbox holds no pending (non-dead) rows.
  bool drained(std::chrono::milliseconds timeout = std::chrono::seconds(60));

  AuthzServer& authz() { return authz_; }
  [[nodiscard]] unsigned short api_port() const { return api_port_; }
  [[nodiscard]] unsigned short api_monitor_port() const { return api_monitor_port_; }
  [[nodiscard]] const std::string& database_url() const { return url_; }

 private:
  StackOptions options_;
  std::string url_;
  AuthzServer authz_;
  unsigned short api_port_ = 0;
  unsigned short api_monitor_port_ = 0;
  std::unique_ptr<ChildProcess> api_;
  std::vector<unsigned short> worker_ports_;
  std::vector<std::unique_ptr<ChildProcess>> workers_;
};

}  // namespace fgac::testing
