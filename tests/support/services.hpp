// Real processes for integration and end-to-end tests: the reference authz
// server (Node.js + SpiceDB), our own binaries, and a small blocking HTTP
// client to talk to them.
#pragma once

#include <sys/types.h>
#include <boost/noncopyable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fgac::testing {

struct HttpResult {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  [[nodiscard]] nlohmann::json json() const { return nlohmann::json::parse(body); }
  // The created resource of a 201 answer, or its "id"; any other answer throws, naming it.
  [[nodiscard]] nlohmann::json created() const;
  [[nodiscard]] std::string created_id() const { return created()["id"].get<std::string>(); }
};

// One request on a fresh connection to 127.0.0.1:port. Throws on transport errors.
HttpResult http_call(unsigned short port, const std::string& method, const std::string& target,
                     const std::string& body = "", const std::map<std::string, std::string>& headers = {},
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Polls GET path until it answers 200 or the timeout passes (then throws).
void wait_for_http(unsigned short port, const std::string& path, std::chrono::milliseconds timeout);

// Polls a condition every 20 ms until true or the timeout passes; returns the final value.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

std::string source_dir();  // $FGAC_SOURCE_DIR
std::string bin_dir();     // $FGAC_BIN_DIR

// A child process with its output in a log file; SIGTERM, then SIGKILL, when destroyed.
class ChildProcess : boost::noncopyable {
 public:
  ChildProcess(std::string name, const std::vector<std::string>& argv, const std::vector<std::string>& env);
  ~ChildProcess();

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] bool running();
  void kill9();
  // Sends SIGTERM and waits; returns the exit code (128+signal when killed), -1 on timeout.
  int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  [[nodiscard]] std::string log() const;
  [[nodiscard]] const std::string& log_path() const { return log_path_; }

 private:
  std::string name_;
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  bool reaped_ = false;
};

// The reference authz server on a free loopback port.
class AuthzServer {
 public:
  explicit AuthzServer(std::vector<std::string> extra_env = {});
  [[nodiscard]] unsigned short port() const { return port_; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void set_faults(const nlohmann::json& faults);
  void clear_faults();
  void reset();  // stats, call log and faults; not the graph
  nlohmann::json stats();
  nlohmann::json calls(const std::string& resource_id = "");
  nlohmann::json relationships(const std::string& resource_id);
  // POST /v1/authz/check for a principal; true on 200, false on 403, throws otherwise.
  bool check(const nlohmann::json& principal, const std::string& task_id, const std::string& operation = "read");
  ChildProcess& process() { return *process_; }

 private:
  unsigned short port_;
  std::unique_ptr<ChildProcess> process_;
};

// The development principals of deploy/local/principals.json.
nlohmann::json alice();
nlohmann::json bob();
nlohmann::json sa_ci();

}  // namespace fgac::testing
