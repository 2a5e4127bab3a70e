// The upstream HTTP client against peers that misbehave on purpose: interim
// answers, stray bytes, TLS with and without a trusted certificate.
#include <doctest/doctest.h>

#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <fstream>

#include "common/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/scripted_server.hpp"
#include "tests/support/services.hpp"

using namespace fgac;
using namespace fgac::testing;

namespace {

std::string ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// The I/O context every client of a test runs on (pooled connections belong to it).
boost::asio::io_context& test_ioc() {
  static boost::asio::io_context ioc;
  return ioc;
}

// Runs one post_json to completion.
HttpClientResponse post(HttpClient& client, const std::string& path = "/v1/authn") {
  auto answer = boost::asio::co_spawn(test_ioc(), client.post_json(path, "{}", {}), boost::asio::use_future);
  test_ioc().restart();
  test_ioc().run();
  return answer.get();
}

HttpClientSettings settings(const std::string& url) {
  return {.base_url = url, .connect_timeout = std::chrono::seconds(2), .request_timeout = std::chrono::seconds(3)};
}

}  // namespace

TEST_CASE("http client: an interim 100 Continue is skipped; the final answer is the one returned") {
  ScriptedServer server([](std::size_t index, const std::string&) {
    return "HTTP/1.1 100 Continue\r\n\r\n" + ok(R"({"caller":)" + std::to_string(index) + "}");
  });
  HttpClient client(settings(server.url()));
  CHECK(post(client).body == R"({"caller":0})");
  CHECK(post(client).body == R"({"caller":1})");
  CHECK(post(client).body == R"({"caller":2})");
  CHECK(server.connections() == 1);  // read whole each time, so the connection was reused
}

TEST_CASE("http client: a connection with bytes left after its answer is never pooled") {
  // The first answer is followed by a second, unasked-for one: were the
  // connection reused, the next caller would be handed it.
  ScriptedServer server([](std::size_t index, const std::string&) {
    if (index == 0) return ok(R"({"caller":0})") + ok(R"({"caller":"stray"})");
    return ok(R"({"caller":)" + std::to_string(index) + "}");
  });
  HttpClient client(settings(server.url()));
  CHECK(post(client).body == R"({"caller":0})");
  CHECK(client.idle_connections() == 0);
  CHECK(post(client).body == R"({"caller":1})");
  CHECK(server.connections() == 2);
}

TEST_CASE("http client: an answer that ends with the connection is returned and the connection dropped") {
  ScriptedServer server([](std::size_t, const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}");
  });
  HttpClient client(settings(server.url()));
  CHECK(post(client).status == 200);
  CHECK(client.idle_connections() == 0);
}

TEST_CASE("http client: an upstream that sends interim answers without end is an error, not a hang") {
  ScriptedServer server([](std::size_t, const std::string&) {
    std::string flood;
    for (int i = 0; i < 10; ++i) flood += "HTTP/1.1 100 Continue\r\n\r\n";
    return flood + ok("{}");
  });
  HttpClient client(settings(server.url()));
  CHECK_THROWS_AS(post(client), boost::system::system_error);
}

TEST_CASE("http client: a name that does not resolve fails within the deadline") {
  HttpClient client(HttpClientSettings{.base_url = "http://name-that-does-not-exist.invalid:80",
                                       .connect_timeout = std::chrono::milliseconds(500),
                                       .request_timeout = std::chrono::milliseconds(500)});
  const auto started = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(post(client), boost::system::system_error);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
}

TEST_CASE("http client: https verifies the server against the configured CA and the host name") {
  const auto dir = std::filesystem::temp_directory_path() / ("fgac-tls-" + std::to_string(free_port()));
  std::filesystem::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string();
  const std::string key = (dir / "key.pem").string();
  auto made = run_process({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                           "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", key, "-out", cert});
  REQUIRE_MESSAGE(made.exit_code == 0, made.output);
  const auto port = free_port();
  const std::string script = R"(
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"user_id":"tls-user"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
)";
  ChildProcess tls_server("tls-server", {"python3", "-c", script, std::to_string(port), cert, key}, {});
  HttpClientSettings trusted = settings("https://localhost:" + std::to_string(port));
  trusted.ca_file = cert;
  HttpClient client(trusted);
  REQUIRE(eventually(
      [&] {
        try {
          return post(client).body == R"({"user_id":"tls-user"})";
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(10)));
  CHECK(post(client).status == 200);

  // The system store does not know this self-signed certificate.
  HttpClient untrusted(settings("https://localhost:" + std::to_string(port)));
  CHECK_THROWS_AS(post(untrusted), boost::system::system_error);
  // Trusted, but not for the name we dialled.
  HttpClientSettings wrong_name = settings("https://127.0.0.1:" + std::to_string(port));
  wrong_name.ca_file = cert;
  HttpClient mismatched(wrong_name);
  CHECK_THROWS_AS(post(mismatched), boost::system::system_error);
  std::filesystem::remove_all(dir);
}
