// Every route's success path, the Task JSON, and creator identity from authn.
#include <doctest/doctest.h>

#include "tests/support/api_fixture.hpp"

using namespace fgac::testing;
using nlohmann::json;

TEST_CASE("agents: create, get by id, get by name, list") {
  ApiFixture api;
  auto created = api.post("/agents", {{"name", "agent-a"}, {"description", "first"}});
  REQUIRE(created.status == 201);
  auto agent = created.json();
  CHECK(agent["name"] == "agent-a");
  CHECK(agent["description"] == "first");
  const auto id = agent["id"].get<std::string>();
  auto by_id = api.call("GET", "/agents/" + id);
  CHECK(by_id.status == 200);
  CHECK(by_id.json()["id"] == id);
  CHECK(api.call("GET", "/agents/name/agent-a").json()["id"] == id);
  api.agent("agent-b");
  // Upstream's default order: newest update first.
  auto list = api.call("GET", "/agents?limit=1&page_number=2");
  REQUIRE(list.status == 200);
  REQUIRE(list.json().size() == 1);
  CHECK(list.json()[0]["name"] == "agent-a");
  CHECK(api.call("GET", "/agents").json().size() == 2);
}

TEST_CASE("tasks: POST /tasks returns 201 and the full Task JSON") {
  ApiFixture api;
  const auto agent_id = api.agent("agent-t");
  auto r = api.post(
      "/tasks", {{"agent_id", agent_id}, {"name", "task-1"}, {"params", {{"k", 1}}}, {"task_metadata", {{"m", "v"}}}});
  REQUIRE_MESSAGE(r.status == 201, r.body);
  auto t = r.json();
  for (const char* field :
       {"id", "name", "status", "status_reason", "params", "task_metadata", "agent_id", "creator_user_id",
        "creator_service_account_id", "created_at", "updated_at", "authz_status", "authz_zedtoken"}) {
    CHECK_MESSAGE(t.contains(field), field);
  }
  CHECK(t["name"] == "task-1");
  CHECK(t["status"] == "RUNNING");
  CHECK(t["params"] == json{{"k", 1}});
  CHECK(t["task_metadata"] == json{{"m", "v"}});
  CHECK(t["agent_id"] == agent_id);
  CHECK(t["creator_user_id"] == "user-alice");
  CHECK(t["creator_service_account_id"].is_null());
  CHECK(t["authz_status"] == "pending");
  CHECK(t["authz_zedtoken"].is_null());
  CHECK(r.headers["content-type"] == "application/json");

  const auto id = t["id"].get<std::string>();
  // A single read is the Task plus "agents" (null unless ?relationships=agents).
  auto got = api.call("GET", "/tasks/" + id).json();
  CHECK(got["agents"].is_null());
  got.erase("agents");
  CHECK(got == t);
  auto by_name = api.call("GET", "/tasks/name/task-1").json();
  by_name.erase("agents");
  CHECK(by_name == t);
}

TEST_CASE("tasks: by agent name, list filters, delete by id and by name") {
  ApiFixture api;
  api.agent("agent-l");
  auto a = api.post("/tasks", {{"agent_name", "agent-l"}, {"name", "l-1"}});
  auto b = api.post("/tasks", {{"agent_name", "agent-l"}, {"name", "l-2"}}, "dev-sa-token");
  REQUIRE(a.status == 201);
  REQUIRE(b.status == 201);
  CHECK(api.call("GET", "/tasks?agent_name=agent-l").json().size() == 2);
  CHECK(api.call("GET", "/tasks?agent_id=" + a.json()["agent_id"].get<std::string>()).json().size() == 2);
  auto by_user = api.call("GET", "/tasks?creator_user_id=user-alice").json();
  REQUIRE(by_user.size() == 1);
  CHECK(by_user[0]["name"] == "l-1");
  // A list carries every field of the task but its params (upstream: they can hold secrets).
  auto listed = by_user[0];
  auto single = api.call("GET", "/tasks/" + a.json()["id"].get<std::string>()).json();
  CHECK_FALSE(listed.contains("params"));
  single.erase("params");
  CHECK(listed == single);
  auto by_sa = api.call("GET", "/tasks?creator_service_account_id=sa-ci").json();
  REQUIRE(by_sa.size() == 1);
  CHECK(by_sa[0]["name"] == "l-2");
  CHECK(api.call("GET", "/tasks?status=RUNNING&limit=1").json().size() == 1);
  CHECK(api.call("GET", "/tasks?status=COMPLETED").json().empty());
  CHECK(api.call("GET", "/tasks?status=DONE").status == 422);

  auto del = api.call("DELETE", "/tasks/" + a.json()["id"].get<std::string>());
  CHECK(del.status == 200);
  CHECK(del.json()["id"] == a.json()["id"]);
  CHECK(del.json()["message"] == "Task " + a.json()["id"].get<std::string>() + " deleted successfully");
  CHECK(api.call("DELETE", "/tasks/name/l-2").status == 200);
  CHECK(api.call("GET", "/tasks/name/l-2").status == 404);
  CHECK(api.scalar("SELECT count(*) FROM task_agents") == 0);
}

TEST_CASE("rpc: task/create is get-or-create by name on both agent routes") {
  ApiFixture api;
  const auto agent_id = api.agent("agent-r");
  json call{
      {"jsonrpc", "2.0"}, {"id", 7}, {"method", "task/create"}, {"params", {{"name", "r-1"}, {"params", {{"p", 1}}}}}};
  auto first = api.post("/agents/" + agent_id + "/rpc", call);
  REQUIRE_MESSAGE(first.status == 200, first.body);
  CHECK(first.json()["jsonrpc"] == "2.0");
  CHECK(first.json()["id"] == 7);
  CHECK(first.json()["result"]["name"] == "r-1");
  auto second = api.post("/agents/name/agent-r/rpc", call);
  REQUIRE(second.status == 200);
  CHECK(second.json()["result"]["id"] == first.json()["result"]["id"]);
  CHECK(api.scalar("SELECT count(*) FROM tasks") == 1);
  CHECK(api.scalar("SELECT count(*) FROM authz_outbox") == 1);
  auto nameless = api.post("/agents/name/agent-r/rpc",
                           {{"jsonrpc", "2.0"}, {"id", "x"}, {"method", "task/create"}, {"params", json::object()}});
  CHECK(nameless.status == 200);
  CHECK(api.scalar("SELECT count(*) FROM tasks") == 2);
  // The official agentex client sends neither jsonrpc nor id.
  auto bare = api.post("/agents/name/agent-r/rpc", {{"method", "task/create"}, {"params", {{"name", "r-2"}}}});
  CHECK(bare.status == 200);
  CHECK(bare.json()["jsonrpc"] == "2.0");
  CHECK(bare.json()["id"].is_null());
  CHECK(bare.json()["result"]["name"] == "r-2");
}

TEST_CASE("creator: a user token fills creator_user_id, a service account fills creator_service_account_id") {
  ApiFixture api;
  api.agent("agent-c");
  auto user = api.post("/tasks", {{"agent_name", "agent-c"}, {"name", "by-user"}}, "dev-user-token").json();
  auto sa = api.post("/tasks", {{"agent_name", "agent-c"}, {"name", "by-sa"}}, "dev-sa-token").json();
  CHECK(user["creator_user_id"] == "user-alice");
  CHECK(user["creator_service_account_id"].is_null());
  CHECK(sa["creator_service_account_id"] == "sa-ci");
  CHECK(sa["creator_user_id"].is_null());
  // The outbox holds the credential-free principal.
  CHECK(api.scalar("SELECT count(*) FROM authz_outbox WHERE principal = "
                   "'{\"principal_type\":\"user\",\"user_id\":\"user-alice\",\"account_id\":\"acct-dev\"}'::jsonb") ==
        1);
  CHECK(api.scalar("SELECT count(*) FROM authz_outbox WHERE principal::text LIKE '%token%'") == 0);
}

TEST_CASE("creator: with AUTH_DISABLED there is no principal and both creator columns stay NULL") {
  ApiFixture api({.auth_disabled = true});
  api.agent("agent-d");
  auto t = api.post("/tasks", {{"agent_name", "agent-d"}}, "").json();
  CHECK(t["creator_user_id"].is_null());
  CHECK(t["creator_service_account_id"].is_null());
  CHECK(api.scalar("SELECT count(*) FROM tasks WHERE creator_user_id IS NULL AND creator_service_account_id IS NULL") ==
        1);
}

TEST_CASE("metrics: requests are labelled by route pattern, never by id; creations by creator kind") {
  ApiFixture api;
  api.agent("agent-m");
  auto t = api.post("/tasks", {{"agent_name", "agent-m"}}, "dev-sa-token").json();
  api.call("GET", "/tasks/" + t["id"].get<std::string>());
  auto metrics = http_call(api.monitor_port(), "GET", "/metrics").body;
  CHECK(metrics.find(R"(http_requests_total{method="GET",route="/tasks/{task_id}",status="200"} 1)") !=
        std::string::npos);
  CHECK(metrics.find(R"(tasks_created_total{creator_kind="service_account"} 1)") != std::string::npos);
  CHECK(metrics.find(t["id"].get<std::string>()) == std::string::npos);
  CHECK(metrics.find("http_request_duration_seconds_bucket") != std::string::npos);
  CHECK(http_call(api.monitor_port(), "GET", "/readyz").status == 200);
}
