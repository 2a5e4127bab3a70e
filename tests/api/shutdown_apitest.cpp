// SIGTERM for the task API: no new connections, idle keep-alive connections
// closed at once, in-flight requests finished before it reports done.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "tests/support/api_fixture.hpp"

using namespace fgac::testing;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

TEST_CASE("shutdown: an in-flight request finishes, an idle keep-alive connection is closed, then done") {
  ApiFixture api;
  api.agent("agent-shutdown");
  // An idle keep-alive connection that has served one request.
  asio::io_context ioc;
  boost::beast::tcp_stream idle(ioc);
  idle.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), api.port()));
  asio::write(
      idle.socket(),
      asio::buffer(std::string("GET /agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-user-token\r\n\r\n")));
  std::string in;
  idle.expires_after(std::chrono::seconds(5));
  asio::read_until(idle, asio::dynamic_buffer(in), "\r\n\r\n");
  REQUIRE(in.starts_with("HTTP/1.1 200"));

  // A create held in flight by a lock, released only after shutdown began.
  auto holder = fgac::pg_connect(settings_for(api.database_url()));
  pqxx::work lock(*holder);
  lock.exec0("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE");
  HttpResult in_flight;
  std::thread create([&] { in_flight = api.post("/tasks", {{"agent_name", "agent-shutdown"}}); });
  REQUIRE(api.a_query_waits_on_a_lock());

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    api.shutdown();
    stopped = true;
  });
  // The idle connection is closed by the server well before its 60 s idle timeout.
  boost::beast::error_code ec;
  char byte = 0;
  idle.expires_after(std::chrono::seconds(5));
  const auto waited_from = std::chrono::steady_clock::now();
  idle.read_some(asio::buffer(&byte, 1), ec);
  CHECK(ec == asio::error::eof);
  CHECK(std::chrono::steady_clock::now() - waited_from < std::chrono::seconds(2));
  // New connections are refused.
  CHECK(eventually(
      [&] {
        try {
          (void)http_call(api.port(), "GET", "/agents", "", {}, std::chrono::milliseconds(500));
          return false;
        } catch (const std::exception&) {
          return true;
        }
      },
      std::chrono::seconds(5)));
  CHECK_FALSE(stopped);  // still waiting for the held request
  lock.commit();         // the held create may go on now
  create.join();
  stopper.join();
  CHECK(in_flight.status == 201);
}
