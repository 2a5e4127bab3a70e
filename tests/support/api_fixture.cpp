#include "tests/support/api_fixture.hpp"

#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <fstream>
#include <future>
#include <mutex>

namespace fgac::testing {

AuthzServer& shared_authz() {
  static AuthzServer server;
  return server;
}

ApiFixture::ApiFixture(const ApiOptions& options) : url_(options.database_url.value_or(migrated_database())) {
  api::ApiConfig config;
  config.database = settings_for(url_, 4);
  config.http.address = "127.0.0.1";
  config.http.port = 0;
  config.http.read_timeout = options.read_timeout;
  config.monitor.address = "127.0.0.1";
  config.monitor.port = 0;
  config.dual_write = options.dual_write;
  if (!options.auth_disabled) {
    api::AuthnSettings authn;
    authn.url = shared_authz().url();
    config.authn = authn;
  }
  if (options.configure) options.configure(config);
  api_ = std::make_unique<api::TaskApi>(ioc_, config);
  api_->start();
  thread_ = std::thread([this] { ioc_.run(); });
}

ApiFixture::~ApiFixture() {
  api_->stop_accepting();
  ioc_.stop();
  thread_.join();
}

namespace {

// With FGAC_CONTRACT_RECORD set (CTest sets it), every response the API tests
// receive is appended to that file as one JSON line, and the contract test
// validates each against service/openapi.json (tools/validate-responses.mjs).
void record_for_contract(const std::string& method, const std::string& target, const HttpResult& result) {
  static const char* path = std::getenv("FGAC_CONTRACT_RECORD");  // NOLINT(concurrency-mt-unsafe): read once
  if (path == nullptr || *path == '\0') return;
  static std::mutex mutex;
  auto type = result.headers.find("content-type");
  nlohmann::json line{{"method", method},
                      {"target", target},
                      {"status", result.status},
                      {"content_type", type == result.headers.end() ? "" : type->second},
                      {"body", result.body}};
  const std::scoped_lock lock(mutex);
  std::ofstream out(path, std::ios::app);
  out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

}  // namespace

HttpResult ApiFixture::call(const std::string& method, const std::string& target, const std::string& body,
                            std::map<std::string, std::string> headers, const std::string& token) {
  if (!token.empty() && !headers.contains("Authorization")) headers["Authorization"] = "Bearer " + token;
  if (!body.empty() && !headers.contains("Content-Type")) headers["Content-Type"] = "application/json";
  auto result = http_call(api_->port(), method, target, body, headers);
  record_for_contract(method, target, result);
  return result;
}

std::string ApiFixture::agent(const std::string& name) {
  return post("/agents", {{"name", name}}).created_id();
}

nlohmann::json ApiFixture::task(const std::string& agent_name, const std::string& name, const std::string& token) {
  return post("/tasks", {{"agent_name", agent_name}, {"name", name}}, token).created();
}

void ApiFixture::exec(const std::string& sql) {
  auto conn = pg_connect(settings_for(url_));
  pqxx::nontransaction tx(*conn);
  tx.exec(sql);
}

long long ApiFixture::scalar(const std::string& sql) {
  auto conn = pg_connect(settings_for(url_));
  pqxx::nontransaction tx(*conn);
  return tx.exec1(sql)[0].as<long long>();
}

bool ApiFixture::a_query_waits_on_a_lock() {
  return eventually([&] { return scalar("SELECT count(*) FROM pg_locks WHERE NOT granted") > 0; },
                    std::chrono::seconds(5));
}

void ApiFixture::shutdown() {
  std::promise<void> finished;
  boost::asio::post(ioc_, [&] { api_->shutdown([&] { finished.set_value(); }); });
  finished.get_future().wait();
}

void ApiFixture::expect_healthy() {
  CHECK(http_call(api_->monitor_port(), "GET", "/healthz").status == 200);
  CHECK(call("GET", "/agents").status == 200);
}

std::string raw_exchange(unsigned short port, const std::string& bytes, std::chrono::milliseconds wait) {
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  constexpr std::size_t kPiece = std::size_t{64} * 1024;
  boost::system::error_code ec;
  for (std::size_t at = 0; at < bytes.size() && !ec; at += kPiece) {
    asio::write(socket, asio::buffer(bytes.data() + at, std::min(kPiece, bytes.size() - at)), ec);
  }
  // Read what the server says (it may have answered and closed mid-send).
  boost::beast::tcp_stream stream(std::move(socket));
  stream.expires_after(wait);
  std::string out;
  char buf[4096];
  for (;;) {
    boost::beast::error_code read_ec;
    auto n = stream.read_some(asio::buffer(buf), read_ec);
    out.append(buf, n);
    if (read_ec) break;
  }
  return out;
}

}  // namespace fgac::testing
