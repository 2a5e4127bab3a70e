// The task API running in this process against the harness's PostgreSQL and
// (unless auth is disabled) the real reference authz server.
#pragma once

#include <functional>
#include <memory>
#include <thread>

#include "common/asio.hpp"
#include "service/task_api.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/services.hpp"

namespace fgac::testing {

// One authz server for the whole binary (starting Node and SpiceDB takes seconds;
// it is stateless between tests but for its graph): the API fixture and the
// worker harness share it, so a worker and an API in one test see one graph.
AuthzServer& shared_authz();

struct ApiOptions {
  bool dual_write = true;
  bool auth_disabled = false;
  std::optional<std::string> database_url;  // default: a fresh migrated database
  std::chrono::milliseconds read_timeout{2000};
  // Any further change to the configuration (limits, timeouts, the authn URL).
  std::function<void(api::ApiConfig&)> configure;
};

// Sends raw bytes (in pieces, stopping when the server closes) and returns
// whatever comes back before the server closes or `wait` passes.
std::string raw_exchange(unsigned short port, const std::string& bytes, std::chrono::milliseconds wait);

class ApiFixture {
 public:
  explicit ApiFixture(const ApiOptions& options = {});
  ~ApiFixture();

  HttpResult call(const std::string& method, const std::string& target, const std::string& body = "",
                  std::map<std::string, std::string> headers = {}, const std::string& token = "dev-user-token");
  HttpResult post(const std::string& target, const nlohmann::json& body, const std::string& token = "dev-user-token") {
    return call("POST", target, body.dump(), {}, token);
  }
  // Creates an agent and returns its id.
  std::string agent(const std::string& name);
  // Creates a task on an existing agent as the token's principal; returns the created task.
  nlohmann::json task(const std::string& agent_name, const std::string& name,
                      const std::string& token = "dev-user-token");
  long long scalar(const std::string& sql);
  // Runs a statement whose rows, if any, are not wanted.
  void exec(const std::string& sql);
  [[nodiscard]] unsigned short port() const { return api_->port(); }
  [[nodiscard]] unsigned short monitor_port() const { return api_->monitor_port(); }
  [[nodiscard]] const std::string& database_url() const { return url_; }
  // The service answers its health check and a real request.
  void expect_healthy();
  // Waits until some statement waits on a lock (the test holds one); false after 5 s.
  bool a_query_waits_on_a_lock();
  // TaskApi::shutdown as SIGTERM calls it; returns once it reported done.
  void shutdown();

 private:
  std::string url_;
  boost::asio::io_context ioc_;
  std::unique_ptr<api::TaskApi> api_;
  std::thread thread_;
};

}  // namespace fgac::testing
