// The agentex client's calls against the real stack (task-api and
// outbox-worker processes, Postgres, the reference authz server over SpiceDB):
// an agent registered, a task created by RPC, read, listed, updated, moved
// through its lifecycle and deleted, exactly as the client sends each call;
// the worker registers the task and deregisters it, and nothing else.
#include <doctest/doctest.h>

#include "tests/e2e/stack.hpp"
#include "tests/support/agentex_client.hpp"

using namespace fgac::testing;
using nlohmann::json;

TEST_CASE("agentex client: register, create_task, retrieve, list, update, complete, task/cancel, delete on the stack") {
  Stack stack;
  AgentexClient client([&stack](const std::string& method, const std::string& target, const std::string& body,
                                const std::map<std::string, std::string>& headers) {
    auto all = headers;
    all["Authorization"] = "Bearer dev-user-token";  // AGENTEX_SDK_API_KEY
    return http_call(stack.api_port(), method, target, body, all);
  });
  auto agent = client.post("/agents/register", {{"name", "e2e-agent"},
                                                {"description", "an agent"},
                                                {"acp_url", "http://e2e-agent:8000"},
                                                {"acp_type", "async"},
                                                {"principal_context", nullptr},
                                                {"registration_metadata", nullptr},
                                                {"agent_input_type", nullptr}});
  REQUIRE_MESSAGE(agent.status == 200, agent.body);
  const auto agent_id = agent.json()["id"].get<std::string>();

  auto created = client.rpc("/agents/name/e2e-agent", "task/create", {{"name", "e2e-task"}, {"params", {{"k", 1}}}});
  REQUIRE_MESSAGE(created.status == 200, created.body);
  const auto task = created.json()["result"];
  REQUIRE(task.is_object());
  const auto id = task["id"].get<std::string>();

  auto read = client.get("/tasks/" + id, {{"relationships", "agents"}});
  REQUIRE(read.status == 200);
  CHECK(read.json()["agents"][0]["id"] == agent_id);
  CHECK(client.get("/tasks/name/e2e-task").json()["params"] == json{{"k", 1}});
  auto listed = client.get(
      "/tasks",
      {{"agent_name", "e2e-agent"}, {"limit", "10"}, {"order_by", std::nullopt}, {"relationships", "agents"}});
  REQUIRE(listed.json().size() == 1);
  CHECK_FALSE(listed.json()[0].contains("params"));
  CHECK(client.put("/tasks/" + id, {{"merge_params", {{"j", 2}}}}).json()["params"] == json{{"k", 1}, {"j", 2}});
  CHECK(client.put("/tasks/name/e2e-task", {{"task_metadata", {{"m", 1}}}}).status == 200);

  // The worker registers it; status changes and updates send nothing more.
  REQUIRE(stack.drained());
  CHECK(client.get("/tasks/" + id).json()["authz_status"] == "synced");
  CHECK(client.post("/tasks/" + id + "/interrupt", json::object()).json()["status"] == "INTERRUPTED");
  CHECK(client.rpc("/agents/" + agent_id, "task/cancel", {{"task_id", id}}).json()["result"]["status"] == "CANCELED");
  CHECK(client.post("/tasks/" + id + "/complete", json::object()).status == 400);  // terminal now
  CHECK(stack.scalar("SELECT count(*) FROM authz_outbox") == 0);

  auto deleted = client.del("/tasks/name/e2e-task");
  REQUIRE(deleted.status == 200);
  CHECK(deleted.json()["message"] == "Task 'e2e-task' deleted successfully");
  REQUIRE(stack.drained());
  CHECK(stack.authz().relationships(id)["relationships"].empty());
  CHECK(client.del("/agents/" + agent_id).status == 200);
  CHECK(client.get("/agents/" + agent_id).status == 404);
}
