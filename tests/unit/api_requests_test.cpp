#include <doctest/doctest.h>

#include "service/authn_client.hpp"
#include "service/requests.hpp"
#include "service/routes.hpp"

using namespace fgac::api;

namespace {
ErrorKind kind_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ApiError& e) {
    return e.kind();
  }
  FAIL("expected an ApiError");
  return ErrorKind::malformed;
}
}  // namespace

TEST_CASE("requests: a valid create-task body parses with the agent by id or by name") {
  auto r = parse_create_task(R"({"agent_id":"123E4567-E89B-12D3-A456-426614174000","name":"t","params":{"a":1}})");
  CHECK(r.agent.id == "123e4567-e89b-12d3-a456-426614174000");
  CHECK(r.name == "t");
  CHECK(r.params == R"({"a":1})");
  CHECK_FALSE(r.task_metadata);
  auto n = parse_create_task(R"({"agent_name":"my-agent","task_metadata":null})");
  CHECK(n.agent.name == "my-agent");
  CHECK_FALSE(n.name);
}

TEST_CASE("requests: malformed JSON is 400; wrong shapes and types are 422") {
  CHECK(kind_of([] { parse_create_task("{not json"); }) == ErrorKind::malformed);
  CHECK(kind_of([] { parse_create_task(""); }) == ErrorKind::malformed);
  CHECK(kind_of([] { parse_create_task("[1,2]"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":5})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":"a","name":7})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":"a","params":[1]})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":"a","params":"x"})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_task(R"({"name":"t"})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":"a","agent_id":"123e4567-e89b-12d3-a456-426614174000"})"); }) ==
        ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_task(R"({"agent_id":"nope"})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":"a","name":""})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":"a","surprise":1})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":")" + std::string(300, 'x') + R"("})"); }) ==
        ErrorKind::invalid);
}

TEST_CASE("requests: create-agent needs a non-empty string name") {
  CHECK(parse_create_agent(R"({"name":"a","description":"d"})").description == "d");
  CHECK(kind_of([] { parse_create_agent(R"({"description":"d"})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_agent(R"({"name":null})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_agent(R"({"name":true})"); }) == ErrorKind::invalid);
}

TEST_CASE("requests: JSON-RPC envelopes are checked") {
  auto rpc = parse_rpc(R"({"jsonrpc":"2.0","id":3,"method":"task/create","params":{"name":"x"}})");
  CHECK(rpc.method == "task/create");
  CHECK(rpc.id == 3);
  CHECK(parse_rpc_task_create(rpc.params, AgentRef{std::nullopt, "a"}).name == "x");
  CHECK(kind_of([] { parse_rpc(R"({"id":1,"method":"task/create"})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_rpc(R"({"jsonrpc":"2.0","method":5})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_rpc(R"({"jsonrpc":"2.0","method":"m","params":[1]})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_rpc(R"({"jsonrpc":"2.0","method":"m","id":{"a":1}})"); }) == ErrorKind::invalid);
}

TEST_CASE("requests: query strings decode and list filters validate") {
  auto q = parse_query("creator_user_id=user%2Dalice&status=RUNNING&limit=10&page_number=2&agent_name=a+b");
  auto f = parse_task_filter(q);
  CHECK(f.creator_user_id == "user-alice");
  CHECK(f.agent_name == "a b");
  CHECK(f.limit == 10);
  CHECK(f.page_number == 2);
  CHECK(kind_of([] { parse_query("a=%zz"); }) == ErrorKind::malformed);
  CHECK(kind_of([] { parse_query("a=%4"); }) == ErrorKind::malformed);
  CHECK(kind_of([] { parse_task_filter(parse_query("limit=0")); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_task_filter(parse_query("limit=1001")); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_task_filter(parse_query("limit=ten")); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_task_filter(parse_query("agent_id=x")); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_task_filter(parse_query("colour=red")); }) == ErrorKind::invalid);
  CHECK(parse_task_filter({}).limit == kDefaultPageSize);
}

TEST_CASE("routes: patterns match, literal segments win, ids never become labels") {
  auto m = match_route(http::verb::get, "/tasks/123e4567-e89b-12d3-a456-426614174000?x=1");
  CHECK(m.route == Route::get_task);
  CHECK(m.pattern == "/tasks/{task_id}");
  CHECK(m.params.at(0) == "123e4567-e89b-12d3-a456-426614174000");
  CHECK(m.query == "x=1");
  CHECK(match_route(http::verb::get, "/tasks/name/my%20task").params.at(0) == "my task");
  CHECK(match_route(http::verb::get, "/tasks/name/my%20task").route == Route::get_task_by_name);
  CHECK(match_route(http::verb::delete_, "/tasks/name/x").route == Route::delete_task_by_name);
  CHECK(match_route(http::verb::post, "/agents/name/a/rpc").route == Route::agent_rpc_by_name);
  CHECK(match_route(http::verb::post, "/agents/abc/rpc").route == Route::agent_rpc);
  CHECK(match_route(http::verb::get, "/tasks/").route == Route::list_tasks);
  auto wrong = match_route(http::verb::put, "/tasks");
  CHECK(wrong.route == Route::none);
  CHECK(wrong.method_not_allowed);
  auto missing = match_route(http::verb::get, "/nope/1");
  CHECK(missing.route == Route::none);
  CHECK_FALSE(missing.method_not_allowed);
  CHECK(missing.pattern == "unmatched");
}

TEST_CASE("authn: hop-by-hop and body headers are not forwarded") {
  CHECK(is_forwarded_header("Authorization"));
  CHECK(is_forwarded_header("X-Api-Key"));
  CHECK_FALSE(is_forwarded_header("Connection"));
  CHECK_FALSE(is_forwarded_header("Transfer-Encoding"));
  CHECK_FALSE(is_forwarded_header("content-length"));
  CHECK_FALSE(is_forwarded_header("Host"));
}

TEST_CASE("authn cache: entries expire, the size is bounded, credentials are never cached") {
  using namespace std::chrono;
  PrincipalCache cache(milliseconds(100), 2);
  const auto t0 = steady_clock::now();
  Principal alice;
  alice.user_id = "user-alice";
  cache.put("a", alice, t0);
  CHECK(cache.get("a", t0 + milliseconds(50))->user_id == "user-alice");
  CHECK_FALSE(cache.get("a", t0 + milliseconds(150)));
  cache.put("b", alice, t0);
  cache.put("c", alice, t0);
  CHECK(cache.size() <= 2);
  Principal secret = alice;
  secret.carries_credentials = true;
  cache.put("s", secret, t0);
  CHECK_FALSE(cache.get("s", t0));
}
