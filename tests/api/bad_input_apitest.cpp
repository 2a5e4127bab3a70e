// Bad input gets a clear error, loses nothing, and leaves the service healthy.
#include <doctest/doctest.h>

#include <algorithm>
#include <iterator>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "tests/support/api_fixture.hpp"

using namespace fgac::testing;
using nlohmann::json;

namespace {

struct Case {
  std::string name;
  std::string method;
  std::string target;
  std::string body;
  std::map<std::string, std::string> headers;
  std::string token;
  unsigned expected;
};

// Bodies that do not parse, do not fit the request's schema, or are too large.
std::vector<Case> body_cases(const std::string& agent_id) {
  return {
      {"malformed JSON", "POST", "/tasks", "{\"agent_id\": ", {}, "dev-user-token", 400},
      {"empty body", "POST", "/tasks", "", {{"Content-Type", "application/json"}}, "dev-user-token", 400},
      {"body not an object", "POST", "/tasks", "[1]", {}, "dev-user-token", 422},
      {"wrong JSON type",
       "POST",
       "/tasks",
       json{{"agent_id", agent_id}, {"name", 12}}.dump(),
       {},
       "dev-user-token",
       422},
      {"params not an object",
       "POST",
       "/tasks",
       json{{"agent_id", agent_id}, {"params", "x"}}.dump(),
       {},
       "dev-user-token",
       422},
      {"unknown field",
       "POST",
       "/tasks",
       json{{"agent_id", agent_id}, {"owner", "me"}}.dump(),
       {},
       "dev-user-token",
       422},
      {"2 MiB body",
       "POST",
       "/tasks",
       json{{"agent_id", agent_id}, {"params", {{"blob", std::string(2 << 20, 'x')}}}}.dump(),
       {},
       "dev-user-token",
       413},
  };
}

// Ids and names that name nothing, an unknown RPC method, and names already taken.
std::vector<Case> reference_cases(const std::string& agent_id) {
  return {
      {"task id in the path that is not a UUID: a miss, as upstream",
       "GET",
       "/tasks/not-a-uuid",
       "",
       {},
       "dev-user-token",
       404},
      {"task id in the delete path that is not a UUID", "DELETE", "/tasks/1234", "", {}, "dev-user-token", 404},
      {"agent id in the path that is not a UUID", "GET", "/agents/1234", "", {}, "dev-user-token", 404},
      {"unknown task id", "GET", "/tasks/123e4567-e89b-12d3-a456-426614174000", "", {}, "dev-user-token", 404},
      {"unknown task name", "DELETE", "/tasks/name/nope", "", {}, "dev-user-token", 404},
      {"unknown agent in body", "POST", "/tasks", json{{"agent_name", "ghost"}}.dump(), {}, "dev-user-token", 422},
      {"unknown agent id in body",
       "POST",
       "/tasks",
       json{{"agent_id", "123e4567-e89b-12d3-a456-426614174000"}}.dump(),
       {},
       "dev-user-token",
       422},
      {"unknown agent in RPC path",
       "POST",
       "/agents/name/ghost/rpc",
       json{{"jsonrpc", "2.0"}, {"method", "task/create"}, {"params", json::object()}}.dump(),
       {},
       "dev-user-token",
       404},
      {"unknown RPC method",
       "POST",
       "/agents/name/agent-bad/rpc",
       json{{"jsonrpc", "2.0"}, {"method", "task/explode"}}.dump(),
       {},
       "dev-user-token",
       422},
      {"duplicate task name",
       "POST",
       "/tasks",
       json{{"agent_id", agent_id}, {"name", "taken"}}.dump(),
       {},
       "dev-user-token",
       400},
      // Upstream's 400, never a 409: the agentex client retries a 409 twice.
      {"duplicate agent name", "POST", "/agents", json{{"name", "agent-bad"}}.dump(), {}, "dev-user-token", 400},
  };
}

// Missing or forged credentials, content types, an oversized header, bad
// query parameters, and requests that match no route; `valid` is a good body.
std::vector<Case> request_cases(const std::string& valid) {
  return {
      {"missing bearer token", "POST", "/tasks", valid, {}, "", 401},
      {"unknown bearer token", "POST", "/tasks", valid, {}, "forged-token", 401},
      {"forged principal header without a token",
       "POST",
       "/tasks",
       valid,
       {{"X-Principal", R"({"principal_type":"user","user_id":"mallory"})"}, {"X-User-Id", "mallory"}},
       "",
       401},
      {"non-JSON content type", "POST", "/tasks", valid, {{"Content-Type", "text/plain"}}, "dev-user-token", 415},
      {"form content type",
       "POST",
       "/agents",
       "name=x",
       {{"Content-Type", "application/x-www-form-urlencoded"}},
       "dev-user-token",
       415},
      {"oversized header", "GET", "/tasks", "", {{"X-Big", std::string(20000, 'h')}}, "dev-user-token", 431},
      {"negative limit", "GET", "/tasks?limit=-1", "", {}, "dev-user-token", 400},
      {"limit over the cap", "GET", "/tasks?limit=1001", "", {}, "dev-user-token", 422},
      {"bad escape in query", "GET", "/tasks?status=%G1", "", {}, "dev-user-token", 400},
      {"unknown route", "GET", "/nothing-here", "", {}, "dev-user-token", 404},
      {"wrong method", "PUT", "/tasks", "", {}, "dev-user-token", 405},

  };
}

}  // namespace

TEST_CASE("bad input: each case gets its status and a JSON error, and the service stays healthy") {
  ApiFixture api;
  const auto agent_id = api.agent("agent-bad");
  REQUIRE(api.post("/tasks", {{"agent_id", agent_id}, {"name", "taken"}}).status == 201);
  const std::string valid = json{{"agent_id", agent_id}}.dump();
  auto cases = body_cases(agent_id);
  std::ranges::move(reference_cases(agent_id), std::back_inserter(cases));
  std::ranges::move(request_cases(valid), std::back_inserter(cases));
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto r = api.call(c.method, c.target, c.body, c.headers, c.token);
    CHECK(r.status == c.expected);
    auto body = json::parse(r.body, nullptr, false);
    REQUIRE_MESSAGE(body.is_object(), r.body);
    CHECK(body["code"] == c.expected);
    CHECK(body["message"].is_string());
    CHECK(body.contains("data"));
    // Never leak SQL or internals.
    CHECK(r.body.find("SQL") == std::string::npos);
    CHECK(r.body.find("duplicate key") == std::string::npos);
    CHECK(r.body.find("pqxx") == std::string::npos);
    api.expect_healthy();
  }
  // Nothing was lost or half-written along the way.
  CHECK(api.scalar("SELECT count(*) FROM tasks") == 1);
  CHECK(api.scalar("SELECT count(*) FROM authz_outbox") == 1);
}

TEST_CASE("bad input: a path id that is not a UUID answers exactly as a missing id does") {
  ApiFixture api;
  const auto missing_task = api.call("GET", "/tasks/123e4567-e89b-12d3-a456-426614174000");
  const auto missing_agent = api.call("GET", "/agents/123e4567-e89b-12d3-a456-426614174000");
  REQUIRE(missing_task.status == 404);
  REQUIRE(missing_agent.status == 404);
  for (const std::string target : {"/tasks/not-a-uuid", "/tasks/123e4567-e89b-12d3-a456-42661417400Z"}) {
    CAPTURE(target);
    for (const std::string method : {"GET", "DELETE"}) {
      const auto r = api.call(method, target);
      CHECK(r.status == 404);
      CHECK(r.body == missing_task.body);
    }
  }
  const auto agent = api.call("GET", "/agents/1234");
  CHECK(agent.status == 404);
  CHECK(agent.body == missing_agent.body);
  // RPC by id answers an unknown agent inside the JSON-RPC envelope, as upstream
  // does (its ids are free text): a non-UUID id the same as a missing one.
  const auto missing_rpc =
      api.call("POST", "/agents/123e4567-e89b-12d3-a456-426614174000/rpc", R"({"method":"task/create","params":{}})");
  const auto rpc = api.call("POST", "/agents/1234/rpc", R"({"method":"task/create","params":{}})");
  CHECK(rpc.status == 200);
  CHECK(missing_rpc.status == 200);
  CHECK(rpc.json()["result"].is_null());
  CHECK(rpc.json()["error"]["code"] == missing_rpc.json()["error"]["code"]);
}

TEST_CASE("bad input: a forged principal header never overrides the authenticated principal") {
  ApiFixture api;
  api.agent("agent-forge");
  auto r = api.call("POST", "/tasks", json{{"agent_name", "agent-forge"}}.dump(),
                    {{"X-Principal", R"({"principal_type":"service_account","service_account_id":"evil"})"},
                     {"X-Service-Account-Id", "evil"},
                     {"X-User-Id", "mallory"}},
                    "dev-user-token");
  REQUIRE(r.status == 201);
  CHECK(r.json()["creator_user_id"] == "user-alice");
  CHECK(r.json()["creator_service_account_id"].is_null());
}

TEST_CASE("bad input: a request that never finishes sending is cut off at the read timeout") {
  ApiFixture api({.read_timeout = std::chrono::milliseconds(500)});
  const auto started = std::chrono::steady_clock::now();
  auto reply = raw_exchange(api.port(),
                            "POST /agents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Authorization: Bearer dev-user-token\r\nContent-Length: 100\r\n\r\n{\"name\":",
                            std::chrono::seconds(5));
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(took < std::chrono::seconds(3));
  CHECK((reply.empty() || reply.find("408") != std::string::npos));
  CHECK(api.scalar("SELECT count(*) FROM agents") == 0);
  api.expect_healthy();
}

TEST_CASE("bad input: garbage that is not HTTP gets a 400 and the connection closes") {
  ApiFixture api;
  auto reply = raw_exchange(api.port(), "HELLO THERE\r\n\r\n", std::chrono::seconds(3));
  CHECK(reply.find("400") != std::string::npos);
  api.expect_healthy();
}
