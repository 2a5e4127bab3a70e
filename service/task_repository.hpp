// Agents and tasks in Postgres. Every statement is a named, parameterized
// Query in task_repository.cpp; the outbox's own statements (the create's
// enqueue, the delete's supersede) are outbox/outbox.hpp's. Reads render the
// API's JSON in the database (task_json, schema/migrations/0010) so a request
// costs one round trip and no re-encoding.
// All functions run on a database thread with a connection of the pool.
#pragma once

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "outbox/outbox.hpp"
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

class TaskRepository {
 public:
  explicit TaskRepository(bool dual_write) : dual_write_(dual_write) {}

  // Agents. create_agent throws pqxx::unique_violation on a duplicate name.
  [[nodiscard]] std::string create_agent(pqxx::connection& conn, const std::string& id,
                                         const CreateAgentRequest& req) const;
  [[nodiscard]] std::optional<std::string> agent_by_id(pqxx::connection& conn, const std::string& id) const;
  [[nodiscard]] std::optional<std::string> agent_by_name(pqxx::connection& conn, const std::string& name) const;
  [[nodiscard]] std::string list_agents(pqxx::connection& conn, std::int64_t limit, std::int64_t offset) const;

  // Inserts the task, its task_agents row and (dual-write on) its outbox row in
  // one statement and one transaction. Unset when the agent does not exist;
  // throws ApiError(conflict) on a duplicate name.
  [[nodiscard]] std::optional<std::string> create_task(pqxx::connection& conn, const NewTask& task) const;

  // Get-or-create by name: the existing task of that name when there is one.
  struct GetOrCreate {
    std::optional<std::string> json;  // unset: the agent does not exist
    bool created = false;
  };
  [[nodiscard]] GetOrCreate get_or_create_task(pqxx::connection& conn, const NewTask& task) const;

  [[nodiscard]] std::optional<std::string> task_by_id(pqxx::connection& conn, const std::string& id) const;
  [[nodiscard]] std::optional<std::string> task_by_name(pqxx::connection& conn, const std::string& name) const;
  [[nodiscard]] std::string list_tasks(pqxx::connection& conn, const TaskFilter& filter) const;

  // Deletes a task and its child rows and, dual-write on, records the desire
  // to deregister it, coalescing with a register that was never sent.
  [[nodiscard]] DeleteResult delete_task_by_id(pqxx::connection& conn, const std::string& id,
                                               const std::string& outbox_principal) const;
  [[nodiscard]] DeleteResult delete_task_by_name(pqxx::connection& conn, const std::string& name,
                                                 const std::string& outbox_principal) const;

  // The list query with only the filters present, so the planner sees real
  // values and can use the partial creator indexes (exposed for EXPLAIN tests).
  [[nodiscard]] ListQuery build_list_tasks_query(const TaskFilter& filter) const;

 private:
  [[nodiscard]] outbox::NewTask outbox_task(const NewTask& task) const;
  [[nodiscard]] std::optional<std::string> agent_json(pqxx::transaction_base& tx, const AgentRef& agent) const;
  [[nodiscard]] DeleteResult delete_task(pqxx::connection& conn, const char* id, const char* name,
                                         const std::string& outbox_principal) const;
  bool dual_write_;
};

}  // namespace fgac::api
