#include "service/task_repository.hpp"

#include "common/query.hpp"
#include "service/api_error.hpp"

namespace fgac::api {
namespace {

constexpr Query kInsertAgent{"insert_agent", R"sql(
INSERT INTO agents AS a (id, name, description, created_at, updated_at)
VALUES ($1::uuid, $2, $3, now(), now())
RETURNING json_build_object('id', a.id, 'name', a.name, 'description', a.description,
                            'created_at', a.created_at, 'updated_at', a.updated_at)::text AS agent)sql"};

// By id ($1), else by name ($2): the name's subquery runs only when $1 is NULL.
constexpr Query kAgentByIdOrName{"agent_by_id_or_name", R"sql(
SELECT json_build_object('id', a.id, 'name', a.name, 'description', a.description,
                         'created_at', a.created_at, 'updated_at', a.updated_at)::text AS agent
  FROM agents a WHERE a.id = coalesce($1::uuid, (SELECT n.id FROM agents n WHERE n.name = $2)))sql"};

constexpr Query kListAgents{"list_agents", R"sql(
SELECT coalesce(json_agg(page.j ORDER BY page.created_at, page.id), '[]')::text AS agents
  FROM (SELECT json_build_object('id', a.id, 'name', a.name, 'description', a.description,
                                 'created_at', a.created_at, 'updated_at', a.updated_at) AS j, a.created_at, a.id
          FROM agents a ORDER BY a.created_at, a.id LIMIT $1 OFFSET $2) page)sql"};

// By id ($1), else by name ($2); $3 the dual-write flag.
constexpr Query kTaskByIdOrName{"task_by_id_or_name", R"sql(
SELECT task_json(t, fa.agent_id, $3::boolean, o.dead_at IS NOT NULL, o.resource_id IS NOT NULL)::text AS task
  FROM tasks t
  LEFT JOIN LATERAL task_first_agent(t.id) fa ON true
  LEFT JOIN authz_outbox o ON o.resource_type = 'task' AND o.resource_id = t.id::text
 WHERE t.id = coalesce($1::uuid, (SELECT n.id FROM tasks n WHERE n.name = $2)))sql"};

// Lock and remove the task (by id $1, else by name $2) and its links; returns
// whether it was ever registered, which decides what the outbox must do.
constexpr Query kDeleteTask{"delete_task", R"sql(
WITH target AS (
  SELECT id FROM tasks WHERE id = coalesce($1::uuid, (SELECT n.id FROM tasks n WHERE n.name = $2)) FOR UPDATE),
links AS (DELETE FROM task_agents WHERE task_id IN (SELECT id FROM target))
DELETE FROM tasks WHERE id IN (SELECT id FROM target)
RETURNING id::text AS id, authz_synced_at IS NOT NULL AS was_registered)sql"};

}  // namespace

void prepare_task_statements(pqxx::connection& conn) {
  for (const auto& query : {kInsertAgent, kAgentByIdOrName, kListAgents, kTaskByIdOrName, kDeleteTask}) {
    prepare(conn, query);
  }
  outbox::prepare_statements(conn);
}

std::string TaskRepository::create_agent(pqxx::connection& conn, const std::string& id,
                                         const CreateAgentRequest& req) const {
  pqxx::work tx(conn);
  auto row = exec1(tx, kInsertAgent, id, req.name, nullable(req.description));
  tx.commit();
  return row["agent"].as<std::string>();
}

std::optional<std::string> TaskRepository::agent_json(pqxx::transaction_base& tx, const AgentRef& agent) const {
  auto r = exec(tx, kAgentByIdOrName, nullable(agent.id), nullable(agent.name));
  if (r.empty()) return std::nullopt;
  return r[0]["agent"].as<std::string>();
}

std::optional<std::string> TaskRepository::agent_by_id(pqxx::connection& conn, const std::string& id) const {
  pqxx::nontransaction tx(conn);
  return agent_json(tx, {.id = id});
}

std::optional<std::string> TaskRepository::agent_by_name(pqxx::connection& conn, const std::string& name) const {
  pqxx::nontransaction tx(conn);
  return agent_json(tx, {.name = name});
}

std::string TaskRepository::list_agents(pqxx::connection& conn, std::int64_t limit, std::int64_t offset) const {
  pqxx::nontransaction tx(conn);
  return exec1(tx, kListAgents, limit, offset)["agents"].as<std::string>();
}

outbox::NewTask TaskRepository::outbox_task(const NewTask& task) const {
  const auto& req = task.request;
  return {.agent_id = req.agent.id,
          .agent_name = req.agent.id ? std::nullopt : req.agent.name,
          .task_id = task.id,
          .name = req.name,
          .params = req.params,
          .task_metadata = req.task_metadata,
          .creator_user_id = task.creator.user_id,
          .creator_service_account_id = task.creator.service_account_id,
          .principal = task.outbox_principal,
          .enqueue = dual_write_};
}

std::optional<std::string> TaskRepository::create_task(pqxx::connection& conn, const NewTask& task) const {
  // One statement is its own transaction: autocommit saves the BEGIN and COMMIT round trips.
  pqxx::nontransaction tx(conn);
  auto json = outbox::insert_task_and_enqueue(tx, outbox_task(task));
  if (json) return json;
  // Nothing inserted: the agent does not exist, or the name is taken.
  if (!agent_json(tx, task.request.agent)) return std::nullopt;
  throw ApiError(ErrorKind::conflict, "an item with this name already exists");
}

TaskRepository::GetOrCreate TaskRepository::get_or_create_task(pqxx::connection& conn, const NewTask& task) const {
  const auto& req = task.request;
  if (!req.name) return {create_task(conn, task), true};  // nameless: always a new task
  pqxx::work tx(conn);
  if (auto json = outbox::insert_task_and_enqueue(tx, outbox_task(task))) {
    tx.commit();
    return {std::move(json), true};
  }
  // Either the name exists (return that task) or the agent does not.
  if (!agent_json(tx, req.agent)) return {std::nullopt, false};
  auto existing = exec(tx, kTaskByIdOrName, kNull, *req.name, dual_write_);
  tx.commit();
  if (existing.empty()) return {std::nullopt, false};
  return {existing[0]["task"].as<std::string>(), false};
}

std::optional<std::string> TaskRepository::task_by_id(pqxx::connection& conn, const std::string& id) const {
  pqxx::nontransaction tx(conn);
  auto r = exec(tx, kTaskByIdOrName, id, kNull, dual_write_);
  if (r.empty()) return std::nullopt;
  return r[0]["task"].as<std::string>();
}

std::optional<std::string> TaskRepository::task_by_name(pqxx::connection& conn, const std::string& name) const {
  pqxx::nontransaction tx(conn);
  auto r = exec(tx, kTaskByIdOrName, kNull, name, dual_write_);
  if (r.empty()) return std::nullopt;
  return r[0]["task"].as<std::string>();
}

ListQuery TaskRepository::build_list_tasks_query(const TaskFilter& filter) const {
  ListQuery q;
  std::string where;
  auto param = [&](std::string value) {
    q.params.push_back(std::move(value));
    return "$" + std::to_string(q.params.size());
  };
  auto add = [&](const std::string& clause) { where += (where.empty() ? " WHERE " : " AND ") + clause; };
  if (filter.agent_id)
    add("t.id IN (SELECT task_id FROM task_agents WHERE agent_id = " + param(*filter.agent_id) + "::uuid)");
  if (filter.agent_name) {
    add("t.id IN (SELECT x.task_id FROM task_agents x JOIN agents a ON a.id = x.agent_id WHERE a.name = " +
        param(*filter.agent_name) + ")");
  }
  if (filter.status) add("t.status = " + param(*filter.status));
  if (filter.creator_user_id) add("t.creator_user_id = " + param(*filter.creator_user_id));
  if (filter.creator_service_account_id) {
    add("t.creator_service_account_id = " + param(*filter.creator_service_account_id));
  }
  const auto dual = param(dual_write_ ? "true" : "false") + "::boolean";
  const auto limit = param(std::to_string(filter.limit)) + "::bigint";
  const auto offset = param(std::to_string((filter.page_number - 1) * filter.limit)) + "::bigint";
  q.sql =
      // A list leaves params out, as upstream does: they can hold one caller's secrets.
      "SELECT coalesce(json_agg(page.j ORDER BY page.created_at DESC, page.id), '[]')::text FROM (SELECT "
      "task_json(t, fa.agent_id, " +
      dual +
      ", o.dead_at IS NOT NULL, o.resource_id IS NOT NULL)::jsonb - 'params' AS j, t.created_at, t.id FROM tasks t"
      " LEFT JOIN LATERAL task_first_agent(t.id) fa ON true"
      " LEFT JOIN authz_outbox o ON o.resource_type = 'task' AND o.resource_id = t.id::text" +
      where + " ORDER BY t.created_at DESC, t.id LIMIT " + limit + " OFFSET " + offset + ") page";
  return q;
}

std::string TaskRepository::list_tasks(pqxx::connection& conn, const TaskFilter& filter) const {
  auto q = build_list_tasks_query(filter);
  pqxx::nontransaction tx(conn);
  return tx.exec_params1(q.sql, pqxx::prepare::make_dynamic_params(q.params))[0].as<std::string>();
}

DeleteResult TaskRepository::delete_task(pqxx::connection& conn, const char* id, const char* name,
                                         const std::string& outbox_principal) const {
  pqxx::work tx(conn);
  auto deleted = exec(tx, kDeleteTask, id, name);
  DeleteResult result;
  if (deleted.empty()) return result;
  result.id = deleted[0]["id"].as<std::string>();
  if (dual_write_) {
    result.outbox =
        outbox::supersede_on_delete(tx, *result.id, deleted[0]["was_registered"].as<bool>(), outbox_principal);
  }
  tx.commit();
  return result;
}

DeleteResult TaskRepository::delete_task_by_id(pqxx::connection& conn, const std::string& id,
                                               const std::string& outbox_principal) const {
  return delete_task(conn, id.c_str(), kNull, outbox_principal);
}

DeleteResult TaskRepository::delete_task_by_name(pqxx::connection& conn, const std::string& name,
                                                 const std::string& outbox_principal) const {
  return delete_task(conn, kNull, name.c_str(), outbox_principal);
}

}  // namespace fgac::api
