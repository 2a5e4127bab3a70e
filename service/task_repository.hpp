// Agents and tasks in Postgres. Every statement is a named, parameterized
// Query in task_repository.cpp (the lists, whose WHERE and ORDER BY depend on
// the filters, are built from fixed fragments and allow-listed columns and
// bound with parameters); the outbox's own statements (the create's enqueue,
// the delete's supersede) are outbox/outbox.hpp's. Reads render the API's JSON
// in the database (agent_json, task_json, task_view: schema/migrations/0010
// and 0014) so a request costs one round trip and no re-encoding.
// All functions run on a database thread with a connection of the pool.
#pragma once

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "outbox/outbox.hpp"
#include "service/authorization.hpp"
#include "service/principal.hpp"
#include "service/requests.hpp"

namespace fgac::api {

// Prepares every statement below on a new connection.
void prepare_task_statements(pqxx::connection& conn);

struct NewTask {
  std::string id;
  CreateTaskRequest request;
  Creator creator;
  std::string outbox_principal;  // credential-free JSON
};

// What happened to the outbox when a task was deleted (for tests and logs).
using OutboxOnDelete = outbox::OnDelete;

struct DeleteResult {
  std::optional<std::string> id;  // unset when no such task
  OutboxOnDelete outbox = OutboxOnDelete::none;
};

struct ListQuery {
  std::string sql;
  std::vector<std::string> params;
};

// The agent an RPC addresses, deleted or not.
struct RpcAgent {
  std::string id;
  std::string acp_type;
  bool deleted = false;
};

// A status change: the task after it, or why it did not happen.
struct TransitionResult {
  enum class Outcome { done, not_found, not_allowed, raced } outcome = Outcome::not_found;
  std::string task;            // done: the Task JSON
  std::string current_status;  // not_allowed: the status it is in
};

class TaskRepository {
 public:
  explicit TaskRepository(bool dual_write) : dual_write_(dual_write) {}

  // --- agents ---
  // create_agent throws pqxx::unique_violation on a duplicate name.
  [[nodiscard]] std::string create_agent(pqxx::connection& conn, const std::string& id,
                                         const CreateAgentRequest& req) const;
  // Upstream's create-or-update (by agent_id when given, else by name; see
  // docs/agentex-contract.md 2.1). Unset when agent_id names no agent.
  [[nodiscard]] std::optional<std::string> register_agent(pqxx::connection& conn, const std::string& new_id,
                                                          const RegisterAgentRequest& req) const;
  // A live agent (not Deleted); unset otherwise.
  [[nodiscard]] std::optional<std::string> agent(pqxx::connection& conn, const AgentRef& ref) const;
  [[nodiscard]] std::optional<RpcAgent> rpc_agent(pqxx::connection& conn, const AgentRef& ref) const;
  [[nodiscard]] std::string list_agents(pqxx::connection& conn, const AgentFilter& filter) const;
  // Soft delete, as upstream: status Deleted, its tasks untouched. Returns the
  // agent's id; unset when it is missing or already deleted.
  [[nodiscard]] std::optional<std::string> delete_agent(pqxx::connection& conn, const AgentRef& ref) const;

  // --- tasks ---
  // Inserts the task, its task_agents row and (dual-write on) its outbox row in
  // one statement and one transaction. Unset when the agent does not exist (or
  // is deleted); throws ApiError(conflict) on a duplicate name.
  [[nodiscard]] std::optional<std::string> create_task(pqxx::connection& conn, const NewTask& task) const;

  // RPC task/create: get-or-create by name. An existing task has its params
  // overwritten when new ones differ, and an INTERRUPTED one is resumed.
  struct GetOrCreate {
    std::optional<std::string> json;  // unset: the agent does not exist
    bool created = false;
  };
  [[nodiscard]] GetOrCreate get_or_create_task(pqxx::connection& conn, const NewTask& task) const;

  // GET one task (TaskResponse): the Task plus "agents", null unless asked for.
  [[nodiscard]] std::optional<std::string> task_response(pqxx::connection& conn, const TaskRef& ref,
                                                         bool with_agents) const;
  // The Task alone (what writes and RPC results answer).
  [[nodiscard]] std::optional<std::string> task(pqxx::connection& conn, const TaskRef& ref) const;
  [[nodiscard]] std::string list_tasks(pqxx::connection& conn, const TaskFilter& filter) const;
  // What an authorization decision needs of the task; unset when there is none.
  [[nodiscard]] std::optional<TaskFacts> task_facts(pqxx::connection& conn, const TaskRef& ref) const;
  // PUT: params shallow-merged, task_metadata replaced; unset when no such task.
  [[nodiscard]] std::optional<std::string> update_task(pqxx::connection& conn, const TaskRef& ref,
                                                       const UpdateTaskRequest& req) const;
  // A compare-and-swap from the transition's allowed statuses.
  [[nodiscard]] TransitionResult transition_task(pqxx::connection& conn, const TaskRef& ref,
                                                 const Transition& transition, const std::string& reason) const;

  // Deletes a task and its child rows and, dual-write on, records the desire
  // to deregister it, coalescing with a register that was never sent.
  [[nodiscard]] DeleteResult delete_task(pqxx::connection& conn, const TaskRef& ref,
                                         const std::string& outbox_principal) const;

  // The list queries with only the filters present, so the planner sees real
  // values and can use the partial indexes (exposed for EXPLAIN tests).
  [[nodiscard]] ListQuery build_list_tasks_query(const TaskFilter& filter) const;
  [[nodiscard]] static ListQuery build_list_agents_query(const AgentFilter& filter);

 private:
  [[nodiscard]] outbox::NewTask outbox_task(const NewTask& task) const;
  bool dual_write_;
};

}  // namespace fgac::api
