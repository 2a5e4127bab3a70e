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
  // As the official agentex client sends it: no jsonrpc, no id.
  auto bare = parse_rpc(R"({"method":"task/create","params":{"name":"y"}})");
  CHECK(bare.method == "task/create");
  CHECK(bare.id.is_null());
  CHECK(kind_of([] { parse_rpc(R"({"jsonrpc":"1.0","id":1,"method":"task/create","params":{}})"); }) ==
        ErrorKind::invalid);
  CHECK(kind_of([] { parse_rpc(R"({"jsonrpc":"2.0","method":5})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_rpc(R"({"method":"task/create","params":[1]})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_rpc(R"({"method":"task/create","params":{},"id":{"a":1}})"); }) == ErrorKind::invalid);
  // upstream's five methods only, and params required (missing or null is its 422)
  CHECK(kind_of([] { parse_rpc(R"({"method":"m","params":{}})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_rpc(R"({"method":"task/cancel"})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_rpc(R"({"method":"task/cancel","params":null})"); }) == ErrorKind::invalid);
  CHECK(parse_rpc(R"({"method":"event/send","params":{}})").method == "event/send");
}

TEST_CASE("requests: task/cancel names a task by id or by name, not both") {
  CHECK(parse_rpc_task_ref(nlohmann::json{{"task_id", "x"}}).id == "x");
  CHECK(parse_rpc_task_ref(nlohmann::json{{"task_name", "n"}}).name == "n");
  auto neither = parse_rpc_task_ref(nlohmann::json::object());
  CHECK_FALSE(neither.id);
  CHECK_FALSE(neither.name);
  CHECK(kind_of([] {
          (void)parse_rpc_task_ref(nlohmann::json{{"task_id", "x"}, {"task_name", "n"}});
        }) == ErrorKind::invalid);
}

TEST_CASE("requests: register, update and transition bodies") {
  auto r = parse_register_agent(
      R"({"name":"my-agent","description":"d","acp_url":"http://a","acp_type":"sync","agent_id":null,)"
      R"("principal_context":{"user_id":"forged"},"registration_metadata":{},"agent_input_type":"json"})");
  CHECK(r.name == "my-agent");
  CHECK(r.acp_type == "sync");
  CHECK_FALSE(r.agent_id);
  CHECK_FALSE(r.registration_metadata);  // {} merges nothing
  CHECK(r.agent_input_type == "json");
  const auto base = std::string(R"("description":"d","acp_url":"http://a","acp_type":"async")");
  CHECK(kind_of([&] { (void)parse_register_agent(R"({"name":"My_Agent",)" + base + "}"); }) == ErrorKind::invalid);
  CHECK(kind_of([&] {
          (void)parse_register_agent(R"({"name":"a","acp_type":"grpc","description":"d","acp_url":"u"})");
        }) == ErrorKind::invalid);
  CHECK(kind_of([&] { (void)parse_register_agent(R"({"name":"a","acp_type":"sync","acp_url":"u"})"); }) ==
        ErrorKind::invalid);

  auto u = parse_update_task(R"({"merge_params":{},"task_metadata":{"a":1}})");
  CHECK_FALSE(u.merge_params);  // upstream ignores an empty patch
  CHECK(u.task_metadata == R"({"a":1})");
  CHECK(parse_update_task("{}").empty());
  CHECK(kind_of([] { (void)parse_update_task(R"({"merge_params":[1]})"); }) == ErrorKind::invalid);

  auto fail = transition_for("fail");
  REQUIRE(fail);
  CHECK(fail->to == "FAILED");
  CHECK(transition_for("timeout")->reason == "Task timed_out");
  CHECK_FALSE(transition_for("interrupt")->from_interrupted);
  CHECK_FALSE(transition_for("explode"));
  CHECK(parse_transition_reason("", *fail) == "Task failed");
  CHECK(parse_transition_reason(" null ", *fail) == "Task failed");
  CHECK(parse_transition_reason("{}", *fail) == "Task failed");
  CHECK(parse_transition_reason(R"({"reason":""})", *fail) == "Task failed");
  CHECK(parse_transition_reason(R"({"reason":"boom"})", *fail) == "boom");
  CHECK(kind_of([&] { (void)parse_transition_reason(R"({"reason":5})", *fail); }) == ErrorKind::invalid);
}

TEST_CASE("requests: list order, relationships and task_metadata follow upstream's rules") {
  auto order = parse_agent_filter(parse_query("order_by=name&order_direction=ASC")).order;
  CHECK(order.column == "name");
  CHECK_FALSE(order.descending);
  CHECK(parse_agent_filter(parse_query("order_direction=DeSc")).order.descending);
  CHECK_FALSE(parse_agent_filter(parse_query("order_direction=sideways")).order.descending);  // anything else: ASC
  CHECK_FALSE(parse_agent_filter(parse_query("order_by=1;drop")).order.column);               // ignored, not used
  CHECK_FALSE(parse_task_filter(parse_query("order_by=params")).order.column);                // not sortable
  CHECK(kind_of([] { (void)parse_agent_filter(parse_query("limit=0")); }) == ErrorKind::invalid);

  CHECK(parse_relationships(parse_query("relationships=agents")));
  CHECK(parse_relationships(parse_query("relationships=agents%2Cagents")));
  CHECK(parse_relationships(parse_query("relationships=agents&relationships=agents")));
  CHECK_FALSE(parse_relationships(parse_query("")));
  CHECK(kind_of([] { (void)parse_relationships(parse_query("relationships=agents,owners")); }) == ErrorKind::invalid);
  CHECK(kind_of([] { (void)parse_relationships(parse_query("relationships=")); }) == ErrorKind::invalid);

  CHECK(parse_task_filter(parse_query("task_metadata=%7B%22a%22%3A+1%7D")).task_metadata == R"({"a":1})");
  CHECK(kind_of([] { (void)parse_task_filter(parse_query("task_metadata=%7B")); }) == ErrorKind::malformed);
  CHECK(kind_of([] { (void)parse_task_filter(parse_query("task_metadata=1")); }) == ErrorKind::malformed);
  CHECK(kind_of([] { (void)parse_task_filter(parse_query("task_metadata=%7B%7D")); }) == ErrorKind::malformed);
  CHECK(kind_of([] { (void)parse_task_filter(parse_query("status=DELETED")); }) == ErrorKind::malformed);
  CHECK(kind_of([] { (void)parse_task_filter(parse_query("status=DONE")); }) == ErrorKind::invalid);
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
  CHECK(parse_task_filter(parse_query("limit=0")).limit == kDefaultPageSize);  // upstream: `limit or 50`
  CHECK(kind_of([] { parse_task_filter(parse_query("limit=-1")); }) == ErrorKind::malformed);
  CHECK(kind_of([] { parse_task_filter(parse_query("page_number=0")); }) == ErrorKind::malformed);
  CHECK(kind_of([] { parse_task_filter(parse_query("limit=1001")); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_task_filter(parse_query("limit=ten")); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_task_filter(parse_query("agent_id=x")); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_task_filter(parse_query("colour=red")); }) == ErrorKind::invalid);
  CHECK(parse_task_filter({}).limit == kDefaultPageSize);
}

TEST_CASE("requests: a query or path that is not UTF-8 is a 400, a NUL in it a 422") {
  CHECK(kind_of([] { parse_query("status=%FF"); }) == ErrorKind::malformed);
  CHECK(kind_of([] { parse_query("%FF=1"); }) == ErrorKind::malformed);
  CHECK(kind_of([] { parse_query("status=%C3%28"); }) == ErrorKind::malformed);
  CHECK(kind_of([] { parse_query("status=\xff"); }) == ErrorKind::malformed);
  CHECK(kind_of([] { parse_query("status=a%00b"); }) == ErrorKind::invalid);
  CHECK(parse_query("agent_name=%C3%A9t%C3%A9").at("agent_name") == "\xC3\xA9t\xC3\xA9");
  CHECK(kind_of([] { match_route(http::verb::get, "/tasks/name/%FF%FE"); }) == ErrorKind::malformed);
  CHECK(kind_of([] { match_route(http::verb::get, "/agents/name/%C3%28"); }) == ErrorKind::malformed);
  CHECK(kind_of([] {
          match_route(http::verb::get,
                      "/tasks/name/\x80"
                      "abc");
        }) == ErrorKind::malformed);
  CHECK(kind_of([] { match_route(http::verb::get, "/tasks/name/abc%00zzz"); }) == ErrorKind::invalid);
}

TEST_CASE("requests: '+' is a space in a query but itself in a path segment") {
  CHECK(parse_query("agent_name=a+b").at("agent_name") == "a b");
  CHECK(match_route(http::verb::get, "/tasks/name/a+b").params.at(0) == "a+b");
  CHECK(match_route(http::verb::get, "/tasks/name/a%2Bb").params.at(0) == "a+b");
  CHECK(percent_decode("a+b", PlusMeans::plus) == "a+b");
  CHECK(percent_decode("a+b", PlusMeans::space) == "a b");
}

TEST_CASE("requests: JSON nested deeper than the limit is a 422 naming the limit, at any size") {
  auto nested = [](std::size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); };
  const auto body = [&](std::size_t levels) { return R"({"agent_name":"a","params":{"x":)" + nested(levels) + "}}"; };
  CHECK(parse_create_task(body(kDefaultMaxJsonDepth - 2)).params.has_value());
  std::string message;
  try {
    parse_create_task(body(kDefaultMaxJsonDepth));
  } catch (const ApiError& e) {
    CHECK(e.kind() == ErrorKind::invalid);
    message = e.what();
  }
  CHECK(message == "JSON nested deeper than 64 levels");
  // 100,000 levels once crashed the process; now it is refused after 65 brackets.
  CHECK(kind_of([&] { parse_create_task(body(100000)); }) == ErrorKind::invalid);
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += R"({"k":)";
  CHECK(kind_of([&] { parse_create_task(R"({"agent_name":"a","params":)" + objects); }) == ErrorKind::invalid);
  CHECK(kind_of([&] { parse_create_task(body(10), 5); }) == ErrorKind::invalid);
}

TEST_CASE("requests: a NUL in any string or key is a 422, never a silent cut") {
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":"a","name":"abc\u0000x"})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":"a","name":"\u0000"})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":"a","params":{"k":["\u0000"]}})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":"a","params":{"k\u0000":1}})"); }) == ErrorKind::invalid);
  CHECK(kind_of([] { parse_create_agent(R"({"name":"a","description":"d\u0000e"})"); }) == ErrorKind::invalid);
}

TEST_CASE("requests: invalid UTF-8 in a body is a 400; numbers that cannot be stored as sent are a 422") {
  CHECK(kind_of([] { parse_create_task("{\"agent_name\":\"\xff\"}"); }) == ErrorKind::malformed);
  CHECK(kind_of([] { parse_create_task("{\"agent_name\":\"\xC3\x28\"}"); }) == ErrorKind::malformed);
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":"a","name":"\ud800"})"); }) == ErrorKind::malformed);
  // The lexer itself refuses a float that overflows a double.
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":"a","params":{"n":1e999}})"); }) == ErrorKind::malformed);
  CHECK(kind_of([] { parse_create_task(R"({"agent_name":"a","params":{"n":123456789012345678901234}})"); }) ==
        ErrorKind::invalid);
  CHECK(
      parse_create_task(R"({"agent_name":"a","params":{"n":18446744073709551615,"m":-9223372036854775808}})").params ==
      R"({"m":-9223372036854775808,"n":18446744073709551615})");
  CHECK(parse_create_task(R"({"agent_name":"a","params":{"f":0.5}})").params == R"({"f":0.5})");
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

TEST_CASE("authn: hop-by-hop, framing and pod-identity headers can never be configured for forwarding") {
  CHECK(unforwardable_header("authorization") == nullptr);
  CHECK(unforwardable_header("x-api-key") == nullptr);
  CHECK(unforwardable_header("connection") != nullptr);
  CHECK(unforwardable_header("transfer-encoding") != nullptr);
  CHECK(unforwardable_header("content-length") != nullptr);
  CHECK(unforwardable_header("expect") != nullptr);
  CHECK(unforwardable_header("host") != nullptr);
  CHECK(unforwardable_header(kPodTokenHeader) != nullptr);
}

TEST_CASE("authn: 401 and 403 mean the caller is not authenticated; every other failure is the provider's") {
  CHECK(authn_verdict(200, false) == AuthnVerdict::principal);
  CHECK(authn_verdict(401, false) == AuthnVerdict::unauthenticated);
  CHECK(authn_verdict(403, false) == AuthnVerdict::unauthenticated);
  for (unsigned status : {301U, 302U, 400U, 404U, 429U, 500U, 502U, 503U, 504U}) {
    CAPTURE(status);
    CHECK(authn_verdict(status, false) == AuthnVerdict::unavailable);
  }
  // The provider rejected our own identity: never the caller's 401.
  CHECK(authn_verdict(401, true) == AuthnVerdict::unavailable);
  CHECK(authn_verdict(200, true) == AuthnVerdict::unavailable);
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
