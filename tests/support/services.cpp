#include "tests/support/services.hpp"

#include <sys/wait.h>
#include <unistd.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/process.hpp"

namespace fgac::testing {

nlohmann::json HttpResult::created() const {
  if (status != 201) throw std::runtime_error("expected 201 Created, got " + std::to_string(status) + ": " + body);
  return json();
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

HttpResult http_call(unsigned short port, const std::string& method, const std::string& target, const std::string& body,
                     const std::map<std::string, std::string>& headers, std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(timeout);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  // A server may answer (413, say) and close before the whole request is
  // written: then the write fails but the answer is still there to read.
  beast::error_code write_error;
  http::write(stream, req, write_error);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code read_error;
  http::read(stream, buffer, res, read_error);
  if (read_error) throw boost::system::system_error(write_error ? write_error : read_error);
  HttpResult out;
  out.status = res.result_int();
  out.body = res.body();
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(field.value());
  }
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  return out;
}

void wait_for_http(unsigned short port, const std::string& path, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "no answer";
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      auto r = http_call(port, "GET", path, "", {}, std::chrono::seconds(2));
      if (r.status == 200) return;
      last = "status " + std::to_string(r.status) + ": " + r.body;
    } catch (const std::exception& e) {
      last = e.what();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("port " + std::to_string(port) + path + " not ready: " + last);
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

namespace {
std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  return v != nullptr ? v : fallback;
}
}  // namespace

std::string source_dir() {
  return env_or("FGAC_SOURCE_DIR", ".");
}
std::string bin_dir() {
  return env_or("FGAC_BIN_DIR", "build/bin");
}

ChildProcess::ChildProcess(std::string name, const std::vector<std::string>& argv, const std::vector<std::string>& env)
    : name_(std::move(name)) {
  char tmpl[] = "/tmp/fgac-test-log-XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  close(fd);
  log_path_ = tmpl;
  pid_ = spawn_process(argv, env, log_path_);
}

ChildProcess::~ChildProcess() {
  if (running()) {
    if (terminate(std::chrono::seconds(10)) < 0) kill9();
  }
  std::remove(log_path_.c_str());
}

bool ChildProcess::running() {
  if (reaped_) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

void ChildProcess::kill9() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  reaped_ = true;
  exit_code_ = 128 + SIGKILL;
}

int ChildProcess::terminate(std::chrono::milliseconds timeout) {
  if (!running()) return exit_code_;
  ::kill(pid_, SIGTERM);
  if (!eventually([this] { return !running(); }, timeout)) return -1;
  return exit_code_;
}

std::string ChildProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

AuthzServer::AuthzServer(std::vector<std::string> extra_env) : port_(free_port()) {
  std::vector<std::string> env{"AUTHZ_PORT=" + std::to_string(port_), "AUTHZ_HOST=127.0.0.1"};
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  process_ = std::make_unique<ChildProcess>(
      "authz-server", std::vector<std::string>{"node", source_dir() + "/deploy/local/authz-server/server.js"}, env);
  try {
    wait_for_http(port_, "/healthz", std::chrono::seconds(30));
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("authz server did not start: ") + e.what() + "\n" + process_->log());
  }
}

void AuthzServer::set_faults(const nlohmann::json& faults) {
  auto r = http_call(port_, "POST", "/_admin/faults", faults.dump());
  if (r.status != 200) throw std::runtime_error("set faults: " + r.body);
}

void AuthzServer::clear_faults() {
  http_call(port_, "DELETE", "/_admin/faults");
}
void AuthzServer::reset() {
  http_call(port_, "POST", "/_admin/reset", "{}");
}
nlohmann::json AuthzServer::stats() {
  return http_call(port_, "GET", "/_admin/stats").json();
}

nlohmann::json AuthzServer::calls(const std::string& resource_id) {
  return http_call(port_, "GET", "/_admin/calls" + (resource_id.empty() ? "" : "?resource_id=" + resource_id)).json();
}

nlohmann::json AuthzServer::relationships(const std::string& resource_id) {
  return http_call(port_, "GET", "/_admin/relationships?resource_type=task&resource_id=" + resource_id).json();
}

bool AuthzServer::check(const nlohmann::json& principal, const std::string& task_id, const std::string& operation) {
  nlohmann::json body{
      {"principal", principal}, {"resource", {{"type", "task"}, {"selector", task_id}}}, {"operation", operation}};
  auto r = http_call(port_, "POST", "/v1/authz/check", body.dump());
  if (r.status == 200) return true;
  if (r.status == 403) return false;
  throw std::runtime_error("check answered " + std::to_string(r.status) + ": " + r.body);
}

nlohmann::json alice() {
  return {{"principal_type", "user"}, {"user_id", "user-alice"}, {"account_id", "acct-dev"}};
}
nlohmann::json bob() {
  return {{"principal_type", "user"}, {"user_id", "user-bob"}, {"account_id", "acct-dev"}};
}
nlohmann::json sa_ci() {
  return {{"principal_type", "service_account"}, {"service_account_id", "sa-ci"}, {"account_id", "acct-dev"}};
}

}  // namespace fgac::testing
