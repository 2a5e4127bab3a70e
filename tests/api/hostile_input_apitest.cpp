// Input as an attacker sends it, over raw sockets where an HTTP library would
// refuse to: every case is a clear 4xx (or a clean close), nothing is stored
// differently from what was sent, and no caller is ever taken for another.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "tests/support/api_fixture.hpp"
#include "tests/support/scripted_server.hpp"

using namespace fgac::testing;
using nlohmann::json;

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string request(const std::string& method, const std::string& target, const std::string& body,
                    const std::string& extra_headers = "", const std::string& token = "dev-user-token") {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: x\r\n";
  if (!token.empty()) out += "Authorization: Bearer " + token + "\r\n";
  if (!body.empty()) out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  return out + extra_headers + "\r\n" + body;
}

unsigned status_of(const std::string& reply) {
  if (reply.size() < 12 || !reply.starts_with("HTTP/1.1 ")) return 0;
  return static_cast<unsigned>(std::stoi(reply.substr(9, 3)));
}

std::size_t count_of(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

// A POST with Expect: 100-continue sent as curl sends it: the body only after the 100.
json create_with_expect(unsigned short port, const std::string& token, const std::string& body) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::string head =
      "POST /tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
      "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n";
  asio::write(socket, asio::buffer(head));
  std::string in;
  asio::read_until(socket, asio::dynamic_buffer(in), "\r\n\r\n");
  REQUIRE(in.starts_with("HTTP/1.1 100 Continue"));
  in.erase(0, in.find("\r\n\r\n") + 4);
  asio::write(socket, asio::buffer(body));
  boost::system::error_code ec;
  asio::read(socket, asio::dynamic_buffer(in), ec);  // until the server closes
  REQUIRE(status_of(in) == 201);
  return json::parse(in.substr(in.find("\r\n\r\n") + 4));
}

}  // namespace

TEST_CASE("identity: Expect: 100-continue gets a 100, then the task is its own caller's") {
  ApiFixture api;
  api.agent("agent-expect");
  auto task = create_with_expect(api.port(), "dev-user-token", json{{"agent_name", "agent-expect"}}.dump());
  CHECK(task["creator_user_id"] == "user-alice");
}

TEST_CASE("identity: two callers for 10 s, one always with Expect: 100-continue; every task names its own creator") {
  ApiFixture api;
  api.agent("agent-race");
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::atomic<int> wrong{0};
  std::atomic<int> made{0};
  auto alice = [&] {
    while (std::chrono::steady_clock::now() < until) {
      auto t = create_with_expect(api.port(), "dev-user-token", json{{"agent_name", "agent-race"}}.dump());
      if (t["creator_user_id"] != "user-alice" || !t["creator_service_account_id"].is_null()) ++wrong;
      ++made;
    }
  };
  auto ci = [&] {
    while (std::chrono::steady_clock::now() < until) {
      auto r = api.call("POST", "/tasks", json{{"agent_name", "agent-race"}}.dump(), {}, "dev-sa-token");
      if (r.status != 201 || r.json()["creator_service_account_id"] != "sa-ci" ||
          !r.json()["creator_user_id"].is_null())
        ++wrong;
      ++made;
    }
  };
  std::thread a(alice);
  std::thread b(ci);
  a.join();
  b.join();
  CHECK(wrong == 0);
  CHECK(made > 20);
  // And the rows say the same as the answers did.
  CHECK(api.scalar(
            "SELECT count(*) FROM tasks WHERE creator_user_id IS NOT NULL AND creator_user_id <> 'user-alice'") == 0);
  CHECK(api.scalar("SELECT count(*) FROM tasks WHERE creator_service_account_id IS NOT NULL "
                   "AND creator_service_account_id <> 'sa-ci'") == 0);
  CHECK(api.scalar("SELECT count(*) FROM tasks") == made.load());
}

TEST_CASE("limits: JSON nested 20,000 or 100,000 levels deep is a 422 naming the limit; the process lives") {
  ApiFixture api;
  api.agent("agent-deep");
  for (std::size_t levels : {65UL, 20000UL, 100000UL}) {
    CAPTURE(levels);
    const std::string body =
        R"({"agent_name":"agent-deep","params":{"x":)" + std::string(levels, '[') + std::string(levels, ']') + "}}";
    auto r = api.call("POST", "/tasks", body);
    CHECK(r.status == 422);
    CHECK(r.json()["message"] == "JSON nested deeper than 64 levels");
  }
  api.expect_healthy();
  CHECK(api.scalar("SELECT count(*) FROM tasks") == 0);
}

TEST_CASE("limits: API_MAX_JSON_DEPTH sets the nesting limit") {
  ApiFixture api({.configure = [](fgac::api::ApiConfig& c) { c.max_json_depth = 4; }});
  api.agent("agent-shallow");
  CHECK(api.post("/tasks", {{"agent_name", "agent-shallow"}, {"params", {{"a", {{"b", 1}}}}}}).status == 201);
  auto r = api.post("/tasks", {{"agent_name", "agent-shallow"}, {"params", {{"a", {{"b", {{"c", {1}}}}}}}}});
  CHECK(r.status == 422);
  CHECK(r.json()["message"] == "JSON nested deeper than 4 levels");
}

TEST_CASE("nul: a NUL anywhere in a string is a 422 and nothing is stored; a NUL in a path is a 422") {
  ApiFixture api;
  api.agent("agent-nul");
  REQUIRE(api.post("/tasks", {{"agent_name", "agent-nul"}, {"name", "abc"}}).status == 201);
  const std::vector<std::pair<std::string, std::string>> bodies{
      {"/tasks", R"({"agent_name":"agent-nul","name":"abc\u0000x"})"},
      {"/tasks", R"({"agent_name":"agent-nul","name":"\u0000"})"},
      {"/tasks", R"({"agent_name":"agent-nul","params":{"k":"a\u0000b"}})"},
      {"/agents", R"({"name":"x","description":"cut\u0000here"})"},
  };
  for (const auto& c : bodies) {
    CAPTURE(c.second);
    CHECK(api.call("POST", c.first, c.second).status == 422);
  }
  CHECK(api.call("GET", "/tasks/name/abc%00zzz").status == 422);
  CHECK(api.scalar("SELECT count(*) FROM tasks") == 1);
  CHECK(api.scalar("SELECT count(*) FROM agents") == 1);
}

TEST_CASE("utf-8: invalid UTF-8 in a path, a query or a body is a 400, never a 500") {
  ApiFixture api;
  api.agent("agent-utf8");
  for (const std::string target :
       {"/tasks/name/%FF%FE", "/agents/name/%C3%28", "/tasks?status=%FF", "/tasks?%FF=1", "/tasks/name/\xC3\x28"}) {
    CAPTURE(target);
    auto reply = raw_exchange(api.port(), request("GET", target, "", "Connection: close\r\n"), std::chrono::seconds(5));
    CHECK(status_of(reply) == 400);
  }
  CHECK(api.call("POST", "/tasks", "{\"agent_name\":\"agent-utf8\",\"name\":\"\xFF\"}").status == 400);
  CHECK(api.scalar("SELECT count(*) FROM tasks") == 0);
  api.expect_healthy();
}

TEST_CASE("paths: '+' in a path segment is a plus, not a space") {
  ApiFixture api;
  api.agent("agent-plus");
  REQUIRE(api.post("/tasks", {{"agent_name", "agent-plus"}, {"name", "a b"}}).status == 201);
  REQUIRE(api.post("/tasks", {{"agent_name", "agent-plus"}, {"name", "a+b"}}).status == 201);
  CHECK(api.call("GET", "/tasks/name/a+b").json()["name"] == "a+b");
  CHECK(api.call("GET", "/tasks/name/a%20b").json()["name"] == "a b");
}

TEST_CASE("head: HEAD answers carry no body, so the next answer on the connection is intact") {
  ApiFixture api;
  const std::string two = request("HEAD", "/agents", "") + request("GET", "/agents", "", "Connection: close\r\n");
  auto reply = raw_exchange(api.port(), two, std::chrono::seconds(5));
  CHECK(count_of(reply, "HTTP/1.1 200 OK") == 2);
  // The HEAD answer's header is followed directly by the GET's status line.
  const auto first_end = reply.find("\r\n\r\n");
  REQUIRE(first_end != std::string::npos);
  CHECK(reply.substr(first_end + 4).starts_with("HTTP/1.1 200 OK"));
  CHECK(reply.substr(0, first_end).find("Content-Length: ") != std::string::npos);

  auto monitor = raw_exchange(api.monitor_port(),
                              "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n",
                              std::chrono::seconds(5));
  CHECK(count_of(monitor, "HTTP/1.1 200 OK") == 2);
  CHECK(count_of(monitor, R"({"status":"ok"})") == 1);
}

TEST_CASE("framing: a Transfer-Encoding that does not end in chunked is a 400 and the hidden request never runs") {
  ApiFixture api;
  const std::string smuggled = request("POST", "/agents", R"({"name":"smuggled"})");
  for (const std::string te : {"chunked, identity", "identity, gzip", "xchunked", "identity"}) {
    CAPTURE(te);
    // The body is a second request: a server that guessed the framing would run it.
    std::string bytes =
        "POST /agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-user-token\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: ";
    bytes.append(te).append("\r\n\r\n").append(smuggled);
    auto reply = raw_exchange(api.port(), bytes, std::chrono::seconds(5));
    CHECK(status_of(reply) == 400);
    CHECK(count_of(reply, "HTTP/1.1 ") == 1);  // and the connection closed after it
  }
  CHECK(api.scalar("SELECT count(*) FROM agents") == 0);
  api.expect_healthy();
}

TEST_CASE("framing: trailer fields are refused, so a trailer can never add a credential") {
  ApiFixture api;
  auto reply = raw_exchange(api.port(),
                            "POST /agents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"
                            "e\r\n{\"name\":\"tr1\"}\r\n0\r\nAuthorization: Bearer dev-user-token\r\n\r\n",
                            std::chrono::seconds(5));
  CHECK(status_of(reply) == 400);
  CHECK(api.scalar("SELECT count(*) FROM agents") == 0);
}

TEST_CASE("buffering: a huge chunk-size line, chunk extension or trailer is refused before it is read whole") {
  ApiFixture api;
  const std::string head =
      "POST /agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-user-token\r\n"
      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::size_t flood = std::size_t{8} << 20;  // 8 MiB of framing, no body
  const std::vector<std::pair<std::string, std::string>> cases{
      {"chunk-size line", head + std::string(flood, '0')},
      {"chunk extension", head + "1;ext=" + std::string(flood, 'e')},
      {"trailer", head + "0\r\nX-Pad: " + std::string(flood, 't')},
  };
  for (const auto& c : cases) {
    CAPTURE(c.first);
    auto reply = raw_exchange(api.port(), c.second, std::chrono::seconds(5));
    CHECK(status_of(reply) == 400);
  }
  api.expect_healthy();
}

TEST_CASE("slowloris: every request of a keep-alive connection must send its header within API_HEADER_TIMEOUT_MS") {
  ApiFixture api({.configure = [](fgac::api::ApiConfig& c) {
    c.http.header_timeout = std::chrono::milliseconds(500);
    c.http.idle_timeout = std::chrono::seconds(60);
  }});
  asio::io_context ioc;
  boost::beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), api.port()));
  const std::string first = request("GET", "/agents", "");
  asio::write(stream.socket(), asio::buffer(first));
  std::string in;
  stream.expires_after(std::chrono::seconds(5));
  asio::read_until(stream, asio::dynamic_buffer(in), "\r\n\r\n");
  REQUIRE(status_of(in) == 200);
  // The second request dribbles in one byte every 100 ms.
  const std::string second = request("GET", "/agents", "");
  const auto started = std::chrono::steady_clock::now();
  boost::system::error_code ec;
  for (char c : second) {
    asio::write(stream.socket(), asio::buffer(&c, 1), ec);
    if (ec) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the attack's pace, not a wait for state
    if (std::chrono::steady_clock::now() - started > std::chrono::seconds(5)) break;
  }
  // The server cut it off at the header deadline, far before the 60 s idle timeout.
  CHECK(ec);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
}

TEST_CASE("metrics: made-up methods are counted as OTHER, not as new series") {
  ApiFixture api;
  for (const std::string method : {"BREW", "WHEN", "XYZZY"}) {
    auto reply =
        raw_exchange(api.port(), request(method, "/tasks", "", "Connection: close\r\n"), std::chrono::seconds(5));
    CHECK(status_of(reply) == 405);
  }
  auto metrics = http_call(api.monitor_port(), "GET", "/metrics").body;
  CHECK(metrics.find("method=\"OTHER\"") != std::string::npos);
  CHECK(metrics.find("BREW") == std::string::npos);
  CHECK(metrics.find("XYZZY") == std::string::npos);
}

TEST_CASE("authn: a provider failure (5xx, 429, 3xx, or rejecting our own identity) is a 503 with Retry-After") {
  std::atomic<unsigned> status{503};
  std::atomic<bool> pod_error{false};
  ScriptedServer authn([&](std::size_t, const std::string&) {
    const std::string extra = pod_error ? "X-Service-Account-Auth-Error: unauthenticated\r\n" : "";
    return "HTTP/1.1 " + std::to_string(status.load()) + " X\r\nContent-Length: 2\r\n" + extra + "\r\n{}";
  });
  ApiFixture api({.configure = [&](fgac::api::ApiConfig& c) { c.authn->url = authn.url(); }});
  for (unsigned s : {500U, 502U, 503U, 504U, 429U, 302U, 404U}) {
    CAPTURE(s);
    status = s;
    auto r = api.call("GET", "/agents");
    CHECK(r.status == 503);
    CHECK(r.headers["retry-after"] == "1");
  }
  status = 401;
  CHECK(api.call("GET", "/agents").status == 401);
  pod_error = true;
  CHECK(api.call("GET", "/agents").status == 503);
}

TEST_CASE("authn: only credential headers reach the provider, and the cache keys on them alone") {
  ScriptedServer authn([](std::size_t, const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 47\r\n\r\n") +
           R"({"principal_type":"user","user_id":"user-tok1"})";
  });
  ApiFixture api({.configure = [&](fgac::api::ApiConfig& c) { c.authn->url = authn.url(); }});
  for (int i = 0; i < 3; ++i) {
    auto r = api.call("GET", "/agents", "",
                      {{"User-Agent", "agent/" + std::to_string(i)},
                       {"X-Forwarded-For", "10.0.0." + std::to_string(i)},
                       {"X-User-Id", "mallory"},
                       {"X-Kubernetes-Service-Account-Token", "forged"},
                       {"Traceparent", "00-" + std::to_string(i)}},
                      "tok1");
    CHECK(r.status == 200);
  }
  auto seen = authn.requests();
  REQUIRE(seen.size() == 1);  // the varying headers did not defeat the cache
  std::string lower = seen[0];
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CHECK(lower.find("authorization: bearer tok1") != std::string::npos);
  for (const char* header : {"x-forwarded-for", "x-user-id", "user-agent: agent", "traceparent", "forged"}) {
    CAPTURE(header);
    CHECK(lower.find(header) == std::string::npos);
  }
  // No credential at all: refused without asking the provider.
  CHECK(api.call("GET", "/agents", "", {}, "").status == 401);
  CHECK(authn.requests().size() == 1);
}

TEST_CASE("database: a request that waits for a connection longer than API_DB_QUEUE_TIMEOUT_MS is a 503") {
  ApiFixture api({.configure = [](fgac::api::ApiConfig& c) {
    c.database.pool_size = 1;
    c.database.queue_timeout = std::chrono::milliseconds(200);
  }});
  api.agent("agent-queue");
  // Hold the only connection: a create that waits on a lock held elsewhere.
  auto holder = fgac::pg_connect(settings_for(api.database_url()));
  pqxx::work lock(*holder);
  lock.exec0("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE");
  std::thread blocked([&] { (void)api.post("/tasks", {{"agent_name", "agent-queue"}}); });
  REQUIRE(api.a_query_waits_on_a_lock());
  const auto started = std::chrono::steady_clock::now();
  auto r = api.call("GET", "/agents");
  CHECK(r.status == 503);
  CHECK(r.headers["retry-after"] == "1");
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
  lock.abort();
  blocked.join();
  api.expect_healthy();
}
