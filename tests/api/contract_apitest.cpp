// The agentex contract as the official Python client (scaleapi/scale-agentex-python)
// drives it: its headers, its query encoding (None dropped, arrays
// comma-joined, form-encoded values), its bodies with their defaults and
// omissions, and upstream's answers (docs/agentex-contract.md). Every response
// here is also validated against service/openapi.json by the contract test.
#include <doctest/doctest.h>

#include <thread>

#include "tests/support/agentex_client.hpp"
#include "tests/support/api_fixture.hpp"

using namespace fgac::testing;
using nlohmann::json;

namespace {

// agentex's lib/utils/registration.py: raw httpx, every field written out.
// The client's transport over the in-process API.
AgentexClient::Send calling(ApiFixture& api) {
  return [&api](const std::string& method, const std::string& target, const std::string& body,
                const std::map<std::string, std::string>& headers) { return api.call(method, target, body, headers); };
}

// What every contract case starts from: the API and the client calling it.
struct Contract {
  ApiFixture api;
  AgentexClient client{calling(api)};
};

json registration(const std::string& name, const std::string& acp_type = "async") {
  return {{"name", name},
          {"description", "an agent"},
          {"acp_url", "http://" + name + ":8000"},
          {"acp_type", acp_type},
          {"principal_context", nullptr},
          {"registration_metadata", nullptr},
          {"agent_input_type", nullptr}};
}

std::string id_of(const HttpResult& r) {
  return r.json()["id"].get<std::string>();
}

// agents.register(name=...) as the client sends it; the new agent's id.
std::string register_agent(AgentexClient& client, const std::string& name) {
  auto registered = client.post("/agents/register", registration(name));
  REQUIRE_MESSAGE(registered.status == 200, registered.body);
  return id_of(registered);
}

// agents.create_task(agent_name=..., params={...}) and its result, which the client validates as a Task.
json create_task(AgentexClient& client, const std::string& agent, const json& params) {
  auto r = client.rpc("/agents/name/" + agent, "task/create", params);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto body = r.json();
  REQUIRE_MESSAGE(body["error"].is_null(), r.body);
  REQUIRE(body["result"].is_object());
  return body["result"];
}

}  // namespace

TEST_CASE("contract: GET /openapi.json serves the checked-in document, without a credential") {
  ApiFixture api;
  auto r = api.call("GET", "/openapi.json", "", {}, "");
  REQUIRE(r.status == 200);
  CHECK(r.headers["content-type"] == "application/json");
  const auto doc = r.json();
  CHECK(doc["openapi"].get<std::string>().starts_with("3.1"));
  CHECK(doc["paths"].contains("/tasks/{task_id}/complete"));
}

TEST_CASE_FIXTURE(Contract, "contract: agents register by name creates the agent, then updates it in place") {
  auto first = client.post("/agents/register", registration("reg-agent"));
  REQUIRE_MESSAGE(first.status == 200, first.body);
  auto agent = first.json();
  const auto id = agent["id"].get<std::string>();
  CHECK(agent["acp_type"] == "async");
  CHECK(agent["status"] == "Ready");
  CHECK(agent["status_reason"] == "Agent registered successfully.");
  CHECK(agent["description"] == "an agent");
  CHECK(agent["registered_at"].is_string());
  CHECK(agent.contains("agent_api_key"));  // registration.py reads it
  CHECK(agent["agent_api_key"].is_null());

  // The same name again: the same agent, updated; unchanged fields write nothing.
  auto same = client.post("/agents/register", registration("reg-agent"));
  REQUIRE(same.status == 200);
  CHECK(same.json()["id"] == id);
  CHECK(same.json()["updated_at"] == agent["updated_at"]);
  auto body = registration("reg-agent", "sync");
  body["registration_metadata"] = {{"team", "a"}};
  auto changed = client.post("/agents/register", body);
  REQUIRE(changed.status == 200);
  CHECK(changed.json()["id"] == id);
  CHECK(changed.json()["acp_type"] == "sync");
  CHECK(changed.json()["registration_metadata"] == json{{"team", "a"}});
  body["registration_metadata"] = {{"region", "eu"}};
  CHECK(client.post("/agents/register", body).json()["registration_metadata"] ==
        json{{"team", "a"}, {"region", "eu"}});  // shallow-merged into the old value
  CHECK(client.post("/agents/register", registration("Bad_Name")).status == 422);
}

TEST_CASE_FIXTURE(
    Contract,
    "contract: agents register by agent_id sets every field but the id; an unknown id is a 404, a taken name "
    "a 400") {
  const auto id = register_agent(client, "reg-agent");

  auto by_id = registration("reg-renamed");
  by_id["agent_id"] = id;
  auto renamed = client.post("/agents/register", by_id);
  REQUIRE_MESSAGE(renamed.status == 200, renamed.body);
  CHECK(renamed.json()["name"] == "reg-renamed");
  by_id["agent_id"] = "00000000-0000-4000-8000-000000000000";
  CHECK(client.post("/agents/register", by_id).status == 404);
  by_id["agent_id"] = "not-a-uuid";  // upstream's ids are free text: a miss
  CHECK(client.post("/agents/register", by_id).status == 404);
  // Renaming onto another agent's name: upstream's 400 duplicate (never a 409, which the client retries).
  REQUIRE(client.post("/agents/register", registration("reg-other")).status == 200);
  by_id["agent_id"] = id;
  by_id["name"] = "reg-other";
  auto taken = client.post("/agents/register", by_id);
  CHECK(taken.status == 400);
  CHECK(taken.json()["message"] == "Item already exists. Please check all unique constraints and try again.");
}

TEST_CASE_FIXTURE(Contract,
                  "contract: agents retrieve by id and by name, and list with limit, order, page and task_id") {
  const auto id = register_agent(client, "reg-renamed");
  REQUIRE(client.post("/agents/register", registration("reg-other")).status == 200);

  // retrieve, retrieve_by_name
  CHECK(client.get("/agents/" + id).json()["name"] == "reg-renamed");
  CHECK(client.get("/agents/name/reg-renamed").json()["id"] == id);

  // list(limit=, order_by=, order_direction=, page_number=, task_id=): None is not sent.
  auto all = client.get("/agents", {{"limit", "50"}, {"order_by", std::nullopt}, {"task_id", std::nullopt}});
  REQUIRE(all.status == 200);
  CHECK(all.json().size() == 2);
  auto by_name = client.get("/agents", {{"order_by", "name"}, {"order_direction", "asc"}});
  REQUIRE(by_name.json().size() == 2);
  CHECK(by_name.json()[0]["name"] == "reg-other");
  CHECK(by_name.json()[1]["name"] == "reg-renamed");
  auto desc = client.get("/agents", {{"order_by", "name"}, {"order_direction", "DESC"}});
  CHECK(desc.json()[0]["name"] == "reg-renamed");
  // An order_by that names no column is ignored, as upstream (never a 500).
  CHECK(client.get("/agents", {{"order_by", "drop table"}}).status == 200);
  auto page =
      client.get("/agents", {{"limit", "1"}, {"page_number", "2"}, {"order_by", "name"}, {"order_direction", "asc"}});
  REQUIRE(page.json().size() == 1);
  CHECK(page.json()[0]["name"] == "reg-renamed");
  CHECK(client.get("/agents", {{"limit", "0"}}).status == 422);

  // task_id: the agents of one task.
  auto task = create_task(client, "reg-renamed", {{"name", "reg-task"}});
  auto of_task = client.get("/agents", {{"task_id", task["id"].get<std::string>()}});
  REQUIRE(of_task.json().size() == 1);
  CHECK(of_task.json()[0]["id"] == id);
  CHECK(client.get("/agents", {{"task_id", "nope"}}).json().empty());
}

TEST_CASE_FIXTURE(
    Contract,
    "contract: agents delete by id and by name is a soft delete: their tasks stay, and registering the name "
    "revives the agent") {
  const auto id = register_agent(client, "reg-renamed");
  REQUIRE(client.post("/agents/register", registration("reg-other")).status == 200);
  auto task = create_task(client, "reg-renamed", {{"name", "reg-task"}});

  auto deleted = client.del("/agents/" + id);
  REQUIRE(deleted.status == 200);
  CHECK(deleted.json() == json{{"id", id}, {"message", "Agent '" + id + "' deleted successfully"}});
  CHECK(client.get("/agents/" + id).status == 404);
  CHECK(client.del("/agents/" + id).status == 404);
  CHECK(client.get("/agents").json().size() == 1);
  auto kept = client.get("/tasks/" + task["id"].get<std::string>(), {{"relationships", "agents"}});
  REQUIRE(kept.status == 200);
  CHECK(kept.json()["agents"][0]["status"] == "Deleted");
  CHECK(api.scalar("SELECT count(*) FROM task_agents") == 1);
  CHECK(api.scalar("SELECT count(*) FROM authz_outbox WHERE desired = 'absent'") == 0);  // nothing deregistered
  auto other = client.del("/agents/name/reg-other");
  REQUIRE(other.status == 200);
  CHECK(other.json()["message"] == "Agent 'reg-other' deleted successfully");
  CHECK(client.del("/agents/name/reg-other").status == 404);
  auto revived = client.post("/agents/register", registration("reg-other"));
  REQUIRE(revived.status == 200);
  CHECK(revived.json()["id"] == other.json()["id"]);
  CHECK(revived.json()["status"] == "Ready");
}

namespace {

// Three tasks of "list-agent", created in this order: "la" with params and
// metadata, "lb" with metadata, "lc" with neither.
struct ListedTasks {
  json a, b, c;
};

ListedTasks create_listed_tasks(AgentexClient& client) {
  REQUIRE(client.post("/agents/register", registration("list-agent")).status == 200);
  auto a =
      create_task(client, "list-agent",
                  {{"name", "la"}, {"params", {{"k", 1}}}, {"task_metadata", {{"team", "a"}, {"tags", {"x", "y"}}}}});
  auto b = create_task(client, "list-agent", {{"name", "lb"}, {"task_metadata", {{"team", "b"}}}});
  auto c = create_task(client, "list-agent", {{"name", "lc"}});
  return {std::move(a), std::move(b), std::move(c)};
}

}  // namespace

TEST_CASE_FIXTURE(Contract, "contract: tasks retrieve with and without relationships=agents, by id and by name") {
  const auto a_id = create_listed_tasks(client).a["id"].get<std::string>();

  // tasks.retrieve(task_id, relationships=["agents"]) sends ?relationships=agents.
  auto plain = client.get("/tasks/" + a_id);
  REQUIRE(plain.status == 200);
  CHECK(plain.json()["agents"].is_null());
  CHECK(plain.json()["params"] == json{{"k", 1}});
  CHECK(plain.json()["cleaned_at"].is_null());
  auto with = client.get("/tasks/" + a_id, {{"relationships", "agents"}});
  REQUIRE(with.json()["agents"].size() == 1);
  CHECK(with.json()["agents"][0]["name"] == "list-agent");
  CHECK(client.get("/tasks/name/la", {{"relationships", "agents"}}).json()["agents"].size() == 1);
  // Upstream's server reads repeated keys; its client sends comma-joined values: both work.
  CHECK(client.get("/tasks/" + a_id + "?relationships=agents&relationships=agents").status == 200);
  CHECK(client.get("/tasks/" + a_id, {{"relationships", "agents,agents"}}).status == 200);
  CHECK(client.get("/tasks/" + a_id, {{"relationships", "owners"}}).status == 422);
}

TEST_CASE_FIXTURE(
    Contract, "contract: tasks list with every parameter: task_metadata containment, order, page, status and agent") {
  const auto tasks = create_listed_tasks(client);
  const auto a_id = tasks.a["id"].get<std::string>();

  // task_metadata is JSON text the caller dumps (Python's json.dumps spacing), containment.
  auto team_a = client.get("/tasks", {{"task_metadata", R"({"team": "a"})"}});
  REQUIRE(team_a.status == 200);
  REQUIRE(team_a.json().size() == 1);
  CHECK(team_a.json()[0]["id"] == a_id);
  CHECK_FALSE(team_a.json()[0].contains("params"));                                           // lists leave params out
  CHECK(client.get("/tasks", {{"task_metadata", R"({"tags": ["y"]})"}}).json().size() == 1);  // arrays as subsets
  CHECK(client.get("/tasks", {{"task_metadata", R"({"team": "z"})"}}).json().empty());
  auto bad_json = client.get("/tasks", {{"task_metadata", "{team"}});
  CHECK(bad_json.status == 400);
  CHECK(bad_json.json()["message"].get<std::string>().starts_with("Invalid JSON in task_metadata query parameter"));
  CHECK(client.get("/tasks", {{"task_metadata", "[1]"}}).json()["message"] ==
        "task_metadata must decode to a JSON object.");
  CHECK(client.get("/tasks", {{"task_metadata", "{}"}}).status == 400);

  // order_by, order_direction, limit, page_number, relationships, status, agent filters.
  auto asc = client.get(
      "/tasks",
      {{"agent_name", "list-agent"}, {"order_by", "name"}, {"order_direction", "asc"}, {"relationships", "agents"}});
  REQUIRE(asc.json().size() == 3);
  CHECK(asc.json()[0]["name"] == "la");
  CHECK(asc.json()[2]["name"] == "lc");
  CHECK(asc.json()[0]["agents"].size() == 1);
  auto newest = client.get("/tasks", {{"limit", "1"}});  // default: updated_at, then created_at, descending
  REQUIRE(newest.json().size() == 1);
  CHECK(newest.json()[0]["id"] == tasks.c["id"]);
  CHECK(newest.json()[0]["agents"].is_null());
  auto second = client.get("/tasks", {{"limit", "1"}, {"page_number", "2"}});
  CHECK(second.json()[0]["id"] == tasks.b["id"]);
  CHECK(client.get("/tasks", {{"limit", "0"}}).json().size() == 3);  // 0 means the default page
  CHECK(client.get("/tasks", {{"limit", "-1"}}).status == 400);
  CHECK(client.get("/tasks", {{"page_number", "0"}}).json()["message"] == "Page number must be greater than 0");
  CHECK(client.get("/tasks", {{"status", "RUNNING"}, {"agent_id", tasks.a["agent_id"].get<std::string>()}})
            .json()
            .size() == 3);
  CHECK(client.get("/tasks", {{"status", "DELETED"}}).status == 400);
  CHECK(client.get("/tasks", {{"status", "DONE"}}).status == 422);
}

namespace {

// A registered "life-agent" and its RUNNING task "life"; returns the task's id.
std::string create_life_task(AgentexClient& client) {
  REQUIRE(client.post("/agents/register", registration("life-agent")).status == 200);
  auto t = create_task(client, "life-agent", {{"name", "life"}, {"params", {{"a", 1}, {"nested", {{"x", 1}}}}}});
  return t["id"].get<std::string>();
}

// POST /tasks/{id}/{action} as the client sends it: "200 STATUS: status_reason"
// when it is taken, "<status> message" when it is refused.
std::string transition(AgentexClient& client, const std::string& id, const std::string& action, const json& body) {
  auto r = client.post("/tasks/" + id + "/" + action, body);
  const auto answer = r.json();
  if (r.status != 200) return std::to_string(r.status) + " " + answer.value("message", r.body);
  return "200 " + answer["status"].get<std::string>() + ": " + answer["status_reason"].get<std::string>();
}

}  // namespace

TEST_CASE_FIXTURE(
    Contract, "contract: tasks update by id and by name: merge_params merges shallowly, task_metadata replaces whole") {
  const auto id = create_life_task(client);

  // tasks.update_by_id(merge_params=, task_metadata=)
  auto merged = client.put("/tasks/" + id, {{"merge_params", {{"b", 2}, {"nested", {{"y", 2}}}}}});
  REQUIRE_MESSAGE(merged.status == 200, merged.body);
  CHECK(merged.json()["params"] == json{{"a", 1}, {"b", 2}, {"nested", {{"y", 2}}}});
  auto meta = client.put("/tasks/name/life", {{"task_metadata", {{"m", 1}}}});
  CHECK(meta.json()["task_metadata"] == json{{"m", 1}});
  CHECK(client.put("/tasks/name/life", {{"task_metadata", {{"n", 2}}}}).json()["task_metadata"] == json{{"n", 2}});
  // Both omitted: the client sends {}, and nothing changes.
  auto noop = client.put("/tasks/" + id, json::object());
  REQUIRE(noop.status == 200);
  CHECK(noop.json()["updated_at"] == client.get("/tasks/" + id).json()["updated_at"]);
  CHECK(client.put("/tasks/00000000-0000-4000-8000-000000000000", json::object()).status == 404);
  CHECK(client.put("/tasks/name/nope", json::object()).status == 404);
}

TEST_CASE_FIXTURE(
    Contract,
    "contract: interrupt only from RUNNING, complete from INTERRUPTED, then no more transitions but updates") {
  const auto id = create_life_task(client);

  // The client sends {} without a reason.
  CHECK(transition(client, id, "interrupt", json::object()) == "200 INTERRUPTED: Task interrupted");
  CHECK(transition(client, id, "interrupt", json::object()) ==
        "400 Task " + id +
            " is not running (current status: TaskStatus.INTERRUPTED). Only running tasks can be interrupted.");
  CHECK(transition(client, id, "complete", {{"reason", "all good"}}) == "200 COMPLETED: all good");
  CHECK(transition(client, id, "fail", json::object()) ==
        "400 Task " + id +
            " cannot be transitioned (current status: TaskStatus.COMPLETED). Only running or interrupted tasks can "
            "have their status updated.");
  // A terminal task can still be updated (upstream has no status check on PUT).
  CHECK(client.put("/tasks/" + id, {{"merge_params", {{"after", true}}}}).status == 200);
}

TEST_CASE_FIXTURE(
    Contract,
    "contract: the other five transitions from RUNNING, each with its default reason; an unknown one is a 404") {
  const auto id = create_life_task(client);

  // An empty reason gets the default too.
  const std::vector<std::pair<std::string, std::string>> transitions{{"complete", "200 COMPLETED: Task completed"},
                                                                     {"fail", "200 FAILED: Task failed"},
                                                                     {"cancel", "200 CANCELED: Task canceled"},
                                                                     {"terminate", "200 TERMINATED: Task terminated"},
                                                                     {"timeout", "200 TIMED_OUT: Task timed_out"}};
  for (const auto& [action, answer] : transitions) {
    auto task = create_task(client, "life-agent", {{"name", "t-" + action}});
    // Plain locals for doctest, whose assertions cannot capture a structured binding.
    const std::string expected = answer;
    const std::string got = transition(client, task["id"].get<std::string>(), action, {{"reason", ""}});
    CHECK(got == expected);
  }
  // No body at all is accepted too (upstream's body is optional).
  auto bare = create_task(client, "life-agent", {{"name", "bare"}});
  CHECK(api.call("POST", "/tasks/" + bare["id"].get<std::string>() + "/cancel").status == 200);
  CHECK(transition(client, id, "explode", json::object()).starts_with("404 "));
  CHECK(transition(client, "not-a-uuid", "complete", json::object()).starts_with("404 "));
}

TEST_CASE_FIXTURE(Contract, "contract: tasks delete by id (a bare id in the message) and by name (quoted)") {
  const auto id = create_life_task(client);
  REQUIRE(create_task(client, "life-agent", {{"name", "bare"}})["name"] == "bare");

  auto by_id = client.del("/tasks/" + id);
  REQUIRE(by_id.status == 200);
  CHECK(by_id.json() == json{{"id", id}, {"message", "Task " + id + " deleted successfully"}});
  CHECK(client.get("/tasks/" + id).status == 404);
  auto by_name = client.del("/tasks/name/bare");
  REQUIRE(by_name.status == 200);
  CHECK(by_name.json()["message"] == "Task 'bare' deleted successfully");
  CHECK(client.del("/tasks/name/bare").status == 404);
}

TEST_CASE_FIXTURE(
    Contract,
    "contract: RPC task/create defaults, overwrites a named task's params, resumes it, and creates unnamed ones") {
  auto agent = client.post("/agents/register", registration("rpc-agent"));
  REQUIRE(agent.status == 200);
  const auto agent_id = id_of(agent);

  // The headline call: no jsonrpc, no id. The answer echoes id null and carries "error": null.
  auto created = client.rpc("/agents/name/rpc-agent", "task/create", {{"name", "rpc-t"}, {"params", {{"p", 1}}}});
  REQUIRE_MESSAGE(created.status == 200, created.body);
  auto envelope = created.json();
  CHECK(envelope["jsonrpc"] == "2.0");
  CHECK(envelope["id"].is_null());
  CHECK(envelope["error"].is_null());
  const auto task = envelope["result"];
  CHECK(task["status"] == "RUNNING");
  CHECK(task["params"] == json{{"p", 1}});

  // The same name: the same task, its params overwritten whole, its metadata ignored.
  auto same =
      create_task(client, "rpc-agent", {{"name", "rpc-t"}, {"params", {{"q", 2}}}, {"task_metadata", {{"m", 1}}}});
  CHECK(same["id"] == task["id"]);
  CHECK(same["params"] == json{{"q", 2}});
  CHECK(same["task_metadata"].is_null());
  CHECK(create_task(client, "rpc-agent", {{"name", "rpc-t"}})["params"] == json{{"q", 2}});  // no params: kept
  // An INTERRUPTED task is resumed by a new turn.
  REQUIRE(client.post("/tasks/" + task["id"].get<std::string>() + "/interrupt", json::object()).status == 200);
  auto resumed = create_task(client, "rpc-agent", {{"name", "rpc-t"}});
  CHECK(resumed["status"] == "RUNNING");
  CHECK(resumed["status_reason"] == "Task resumed on next turn");
  // Unnamed tasks are always new; the by-id route and an explicit id/jsonrpc work too.
  auto by_id = client.post("/agents/" + agent_id + "/rpc",
                           {{"jsonrpc", "2.0"}, {"id", 7}, {"method", "task/create"}, {"params", json::object()}});
  REQUIRE(by_id.status == 200);
  CHECK(by_id.json()["id"] == 7);
  CHECK(by_id.json()["result"]["name"].is_null());
}

TEST_CASE_FIXTURE(
    Contract, "contract: RPC task/cancel by id and by name cancels \"by user\"; a terminal task comes back unchanged") {
  auto agent = client.post("/agents/register", registration("rpc-agent"));
  REQUIRE(agent.status == 200);
  const auto agent_id = id_of(agent);
  const auto task = create_task(client, "rpc-agent", {{"name", "rpc-t"}});

  auto cancel = client.rpc("/agents/" + agent_id, "task/cancel", {{"task_id", task["id"]}});
  REQUIRE_MESSAGE(cancel.status == 200, cancel.body);
  CHECK(cancel.json()["result"]["status"] == "CANCELED");
  CHECK(cancel.json()["result"]["status_reason"] == "Task canceled by user");
  auto twice = client.rpc("/agents/name/rpc-agent", "task/cancel", {{"task_name", "rpc-t"}});
  REQUIRE(twice.status == 200);
  CHECK(twice.json()["error"].is_null());
  CHECK(twice.json()["result"]["status"] == "CANCELED");
  CHECK(client.rpc("/agents/name/rpc-agent", "task/cancel", {{"task_name", "missing"}}).status == 404);
  auto unknown = client.rpc("/agents/name/rpc-agent", "task/cancel", {{"task_id", "nope"}});
  REQUIRE(unknown.status == 200);
  CHECK(unknown.json()["error"]["message"] == "Item with id 'nope' does not exist.");
  auto neither = client.rpc("/agents/name/rpc-agent", "task/cancel", json::object());
  REQUIRE(neither.status == 200);  // upstream's 500 would be retried by the client
  CHECK(neither.json()["error"]["code"] == -32602);
  CHECK(client.rpc("/agents/name/rpc-agent", "task/cancel", {{"task_id", "a"}, {"task_name", "b"}}).status == 422);
}

TEST_CASE_FIXTURE(Contract, "contract: RPC methods are allowed by acp_type, and unknown or deleted agents are errors") {
  REQUIRE(client.post("/agents/register", registration("rpc-agent")).status == 200);
  create_task(client, "rpc-agent", {{"name", "rpc-t"}});

  // The methods that need the agent's ACP server are errors, not 422s.
  REQUIRE(client.post("/agents/register", registration("sync-agent", "sync")).status == 200);
  auto sync_cancel = client.rpc("/agents/name/sync-agent", "task/cancel", {{"task_name", "rpc-t"}});
  REQUIRE(sync_cancel.status == 200);
  CHECK(sync_cancel.json()["error"]["message"] == "Unsupported method: task/cancel for ACP type: sync");
  auto forward = client.rpc("/agents/name/rpc-agent", "event/send", {{"task_name", "rpc-t"}, {"content", "hi"}});
  REQUIRE(forward.status == 200);
  CHECK(forward.json()["error"]["code"] == -32601);
  CHECK(client.rpc("/agents/name/rpc-agent", "task/explode", json::object()).status == 422);
  CHECK(client.post("/agents/name/rpc-agent/rpc", {{"method", "task/create"}}).status == 422);  // params required

  // Unknown agents: by name a 404, by id a JSON-RPC error (upstream); a deleted agent an error.
  CHECK(client.rpc("/agents/name/nobody", "task/create", json::object()).status == 404);
  auto nobody = client.rpc("/agents/00000000-0000-4000-8000-000000000000", "task/create", json::object());
  REQUIRE(nobody.status == 200);
  CHECK(nobody.json()["result"].is_null());
  REQUIRE(client.del("/agents/name/sync-agent").status == 200);
  auto gone = client.rpc("/agents/name/sync-agent", "task/create", json::object());
  REQUIRE(gone.status == 200);
  CHECK(gone.json()["error"]["message"].get<std::string>().ends_with(" is deleted"));
  // POST /tasks (ours) treats a deleted agent as unknown.
  CHECK(api.post("/tasks", {{"agent_name", "sync-agent"}}).status == 422);
}

TEST_CASE_FIXTURE(Contract, "contract: creates and deletes on the new paths reach the outbox; status changes do not") {
  REQUIRE(client.post("/agents/register", registration("outbox-agent")).status == 200);
  auto t = create_task(client, "outbox-agent", {{"name", "ob"}});
  const auto id = t["id"].get<std::string>();
  CHECK(t["authz_status"] == "pending");
  CHECK(api.scalar("SELECT count(*) FROM authz_outbox WHERE resource_id = '" + id + "'") == 1);
  const auto generation = api.scalar("SELECT generation FROM authz_outbox WHERE resource_id = '" + id + "'");
  REQUIRE(client.put("/tasks/" + id, {{"merge_params", {{"x", 1}}}}).status == 200);
  REQUIRE(client.post("/tasks/" + id + "/interrupt", json::object()).status == 200);
  REQUIRE(client.rpc("/agents/name/outbox-agent", "task/cancel", {{"task_id", id}}).status == 200);
  REQUIRE(create_task(client, "outbox-agent", {{"name", "ob"}, {"params", {{"y", 2}}}})["id"] == id);
  CHECK(api.scalar("SELECT generation FROM authz_outbox WHERE resource_id = '" + id + "'") == generation);
  CHECK(api.scalar("SELECT count(*) FROM authz_outbox") == 1);
  // Deleting the agent deletes no task, so it deregisters nothing.
  REQUIRE(client.del("/agents/name/outbox-agent").status == 200);
  CHECK(api.scalar("SELECT count(*) FROM authz_outbox WHERE desired = 'absent'") == 0);
  CHECK(api.scalar("SELECT count(*) FROM tasks") == 1);
}

TEST_CASE_FIXTURE(Contract,
                  "contract: a status change or update racing the task's delete answers 404 and leaves it deleted") {
  REQUIRE(client.post("/agents/register", registration("race-agent")).status == 200);
  for (const std::string op : {"complete", "update"}) {
    CAPTURE(op);
    auto t = create_task(client, "race-agent", {{"name", "race-" + op}});
    const auto id = t["id"].get<std::string>();
    // The delete holds the task's row lock while the change is sent; then it commits.
    auto conn = fgac::pg_connect(settings_for(api.database_url()));
    pqxx::work tx(*conn);
    tx.exec_params("DELETE FROM task_agents WHERE task_id = $1::uuid", id);
    tx.exec_params("DELETE FROM tasks WHERE id = $1::uuid", id);
    HttpResult racing;
    std::thread change([&] {
      racing = op == "complete" ? client.post("/tasks/" + id + "/complete", json::object())
                                : client.put("/tasks/" + id, {{"merge_params", {{"late", true}}}});
    });
    const bool waited = api.a_query_waits_on_a_lock();
    tx.commit();
    change.join();
    CHECK(waited);
    CHECK(racing.status == 404);
    CHECK(api.scalar("SELECT count(*) FROM tasks WHERE id = '" + id + "'") == 0);
  }
}
