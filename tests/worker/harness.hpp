// The outbox worker on its own: a fresh migrated database, the reference authz
// server (real SpiceDB engine) and outbox-worker processes. Tests create and
// delete tasks through the task API's own repository (so its outbox writes are
// the real ones, in process, without the HTTP server), and
// read the outcome back from the database, the worker's /metrics and the
// authz server's graph and call log.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/services.hpp"

namespace fgac::testing {

// One outbox-worker process with its own monitor port.
class WorkerProcess {
 public:
  WorkerProcess(const std::string& database_url, const std::string& authz_url, const std::string& worker_id,
                const std::vector<std::string>& extra_env);
  [[nodiscard]] unsigned short monitor_port() const { return port_; }
  ChildProcess& process() { return *process_; }
  std::string metrics();
  // Sum of a metric's samples whose labels contain every fragment of `labels` (e.g. {R"(op="register")"}).
  double metric(const std::string& name, const std::vector<std::string>& labels = {});

 private:
  unsigned short port_;
  std::unique_ptr<ChildProcess> process_;
};

class OutboxHarness {
 public:
  OutboxHarness();

  [[nodiscard]] const std::string& database_url() const { return url_; }
  AuthzServer& authz();

  // SQL on a fresh connection.
  void exec(const std::string& sql);
  long long scalar(const std::string& sql);
  std::optional<std::string> text(const std::string& sql);

  // Through the task API's repository: the task, its task_agents row and (enqueue_register) its outbox row.
  std::string create_agent(const std::string& name);
  struct Creator {
    std::optional<std::string> user_id;
    std::optional<std::string> service_account_id;
  };
  std::string create_task(const std::string& agent_id, const Creator& creator = {.user_id = "user-alice"},
                          bool enqueue_register = true);
  // n of Alice's tasks of the agent, one create_task() each, in order: their ids.
  std::vector<std::string> create_tasks(const std::string& agent_id, int n);
  // n of Alice's tasks of the agent in one statement, each with its pending register row unless
  // `enqueue_register` is false (created while dual-write was off).
  void create_tasks_in_bulk(const std::string& agent_id, int n, bool enqueue_register);
  // The API's delete (outbox::supersede_on_delete): drop an unsent row, flip a sent one to absent under
  // a new generation, or enqueue a deregister when the register was already delivered.
  void delete_task(const std::string& task_id);

  // Waits until no outbox row is pending (dead rows do not count).
  bool drained(std::chrono::milliseconds timeout);

  // outbox-worker processes with short leases, backoff and poll for tests.
  std::unique_ptr<WorkerProcess> start_worker(const std::string& worker_id,
                                              const std::vector<std::string>& extra_env = {});
  // Runs a worker until every pending change is delivered (or 30 s have passed: REQUIRE fails), then
  // stops it: what is registered from here on stays as it is.
  void deliver_pending(const std::string& worker_id);
  ProcessResult taskctl(const std::vector<std::string>& args);

  // The authorization graph.
  std::set<std::string> relations_of(const std::string& task_id);
  void expect_registered(const std::string& task_id, const std::string& agent_id, bool with_tenant = true);
  void expect_deregistered(const std::string& task_id);
  // The authz service's faults are cleared: the running workers deliver every pending change
  // within 10 s and these tasks are registered under the agent.
  void recover(const std::vector<std::string>& task_ids, const std::string& agent_id);
  // The authz server's call log for a task: (op, status) in arrival order.
  std::vector<std::pair<std::string, int>> calls_of(const std::string& task_id);

 private:
  std::string url_;
  int next_name_ = 0;
};

// alice as the API stores her in the outbox (credential-free).
nlohmann::json alice_principal();

}  // namespace fgac::testing
