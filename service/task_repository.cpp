#include "service/task_repository.hpp"

namespace fgac::api {
namespace {

// The API's Task JSON, rendered by Postgres. Placeholders: $T the tasks row,
// $AGENT the agent id, $DUAL the dual-write flag, $DEAD and $PENDING the
// outbox state.
constexpr std::string_view kTaskJsonTemplate = R"sql(json_build_object(
  'id', $T.id, 'name', $T.name, 'status', $T.status, 'status_reason', $T.status_reason,
  'params', $T.params, 'task_metadata', $T.task_metadata, 'agent_id', $AGENT,
  'creator_user_id', $T.creator_user_id, 'creator_service_account_id', $T.creator_service_account_id,
  'created_at', $T.created_at, 'updated_at', $T.updated_at,
  'authz_status', CASE WHEN NOT $DUAL THEN 'disabled'
                       WHEN $DEAD THEN 'dead'
                       WHEN $PENDING THEN 'pending'
                       WHEN $T.authz_synced_at IS NOT NULL THEN 'synced'
                       ELSE 'disabled' END,
  'authz_zedtoken', $T.authz_zedtoken))sql";

struct TaskJsonParts {
  std::string_view row = "t";
  std::string_view agent = "ta.agent_id";
  std::string_view dual;
  std::string_view dead = "o.dead_at IS NOT NULL";
  std::string_view pending = "o.resource_id IS NOT NULL";
};

std::string render_task_json(const TaskJsonParts& parts) {
  std::string out(kTaskJsonTemplate);
  const std::pair<std::string_view, std::string_view> substitutions[] = {
      {"$T.", ""}, {"$AGENT", parts.agent}, {"$DUAL", parts.dual}, {"$DEAD", parts.dead}, {"$PENDING", parts.pending}};
  for (const auto& [from, to] : substitutions) {
    const std::string replacement = from == "$T." ? std::string(parts.row) + "." : std::string(to);
    for (auto pos = out.find(from); pos != std::string::npos; pos = out.find(from, pos + replacement.size())) {
      out.replace(pos, from.size(), replacement);
    }
  }
  return out;
}

constexpr std::string_view kTaskJoins = R"sql(
  LEFT JOIN LATERAL (SELECT agent_id FROM task_agents WHERE task_id = t.id ORDER BY created_at LIMIT 1) ta ON true
  LEFT JOIN authz_outbox o ON o.resource_type = 'task' AND o.resource_id = t.id::text)sql";

constexpr std::string_view kAgentJson = R"sql(json_build_object(
  'id', a.id, 'name', a.name, 'description', a.description, 'created_at', a.created_at, 'updated_at', a.updated_at))sql";

std::string task_json(std::string_view dual_param) {
  return render_task_json({.dual = dual_param});
}

// Create: one statement inserts the task, links it to its agent and, with
// dual-write on ($9), enqueues the register in the outbox. $1 is the agent
// (id or name), $2 the new task id, $3..$5 name/params/metadata, $6/$7 the
// creator, $8 the credential-free principal.
std::string create_task_sql(std::string_view agent_predicate, bool get_or_create) {
  std::string sql = "WITH agent AS (SELECT id FROM agents WHERE ";
  sql += agent_predicate;
  sql += R"sql(), task AS (
  INSERT INTO tasks (id, name, status, params, task_metadata, creator_user_id, creator_service_account_id,
                     created_at, updated_at)
  SELECT $2::uuid, $3, 'RUNNING', $4::jsonb, $5::jsonb, $6, $7, now(), now() FROM agent)sql";
  if (get_or_create) sql += "\n  ON CONFLICT (name) DO NOTHING";
  sql += R"sql(
  RETURNING *
), link AS (
  INSERT INTO task_agents (task_id, agent_id, created_at) SELECT task.id, agent.id, now() FROM task, agent
), outbox AS (
  INSERT INTO authz_outbox (resource_type, resource_id, parent_type, parent_id, principal, desired, generation,
                            enqueued_at)
  SELECT 'task', task.id::text, 'agent', agent.id::text, $8::jsonb, 'present', 1, now()
  FROM task, agent WHERE $9::boolean
)
SELECT )sql";
  // The row was just written: its outbox state follows from the flag alone.
  const std::string json =
      render_task_json({.row = "task", .agent = "agent.id", .dual = "$9::boolean", .dead = "false", .pending = "true"});
  sql += json + "::text FROM task, agent";
  return sql;
}

const std::string kInsertAgent =
    "INSERT INTO agents AS a (id, name, description, created_at, updated_at) "
    "VALUES ($1::uuid, $2, $3, now(), now()) RETURNING " +
    std::string(kAgentJson) + "::text";
const std::string kAgentById = "SELECT " + std::string(kAgentJson) + "::text FROM agents a WHERE a.id = $1::uuid";
const std::string kAgentByName = "SELECT " + std::string(kAgentJson) + "::text FROM agents a WHERE a.name = $1";
const std::string kListAgents = "SELECT coalesce(json_agg(j ORDER BY created_at, id), '[]')::text FROM (SELECT " +
                                std::string(kAgentJson) +
                                " AS j, a.created_at, a.id FROM agents a ORDER BY a.created_at, a.id "
                                "LIMIT $1 OFFSET $2) page";

const std::string kTaskById =
    "SELECT " + task_json("$2::boolean") + "::text FROM tasks t" + std::string(kTaskJoins) + " WHERE t.id = $1::uuid";
const std::string kTaskByName =
    "SELECT " + task_json("$2::boolean") + "::text FROM tasks t" + std::string(kTaskJoins) + " WHERE t.name = $1";

// Delete: lock and remove the task and its links; returns whether it was ever
// registered (authz_synced_at), which decides what the outbox must do.
constexpr std::string_view kDeleteTaskTemplate = R"sql(
WITH target AS (SELECT id FROM tasks WHERE $PREDICATE FOR UPDATE),
links AS (DELETE FROM task_agents WHERE task_id IN (SELECT id FROM target))
DELETE FROM tasks WHERE id IN (SELECT id FROM target)
RETURNING id::text, authz_synced_at IS NOT NULL)sql";

std::string delete_task_sql(std::string_view predicate) {
  std::string sql(kDeleteTaskTemplate);
  sql.replace(sql.find("$PREDICATE"), 10, predicate);
  return sql;
}

// Lock order everywhere is tasks row, then outbox row: the worker's
// completion (task update, then outbox delete) follows it too, so a delete
// racing a delivery never deadlocks and always sees the latest outbox state.
constexpr const char* kLockOutboxRow =
    "SELECT sent FROM authz_outbox WHERE resource_type = 'task' AND resource_id = $1 FOR UPDATE";
// A register never sent has caused no authz traffic: dropping it is the whole undo.
constexpr const char* kDropUnsentOutboxRow =
    "DELETE FROM authz_outbox WHERE resource_type = 'task' AND resource_id = $1";
// A register already sent (delivered, in flight or retrying): the desire
// becomes absent under a new generation, so an in-flight completion of the old
// one cannot delete the row and the deregister follows it.
constexpr const char* kFlipOutboxToAbsent = R"sql(
UPDATE authz_outbox
   SET desired = 'absent', generation = generation + 1, principal = $2::jsonb, enqueued_at = now(),
       attempts = 0, next_attempt_at = now(), dead_at = NULL,
       last_error = NULL, last_exception_class = NULL, last_status = NULL
 WHERE resource_type = 'task' AND resource_id = $1)sql";
// Registered and delivered earlier (row gone): enqueue the deregister.
constexpr const char* kEnqueueDeregister = R"sql(
INSERT INTO authz_outbox (resource_type, resource_id, principal, desired, generation, enqueued_at)
VALUES ('task', $1, $2::jsonb, 'absent', 1, now()))sql";

const char* opt(const std::optional<std::string>& value) {
  return value ? value->c_str() : nullptr;
}

}  // namespace

void prepare_task_statements(pqxx::connection& conn) {
  conn.prepare("insert_agent", kInsertAgent);
  conn.prepare("agent_by_id", kAgentById);
  conn.prepare("agent_by_name", kAgentByName);
  conn.prepare("list_agents", kListAgents);
  conn.prepare("create_task_by_agent_id", create_task_sql("id = $1::uuid", false));
  conn.prepare("create_task_by_agent_name", create_task_sql("name = $1", false));
  conn.prepare("get_or_create_task_by_agent_id", create_task_sql("id = $1::uuid", true));
  conn.prepare("get_or_create_task_by_agent_name", create_task_sql("name = $1", true));
  conn.prepare("task_by_id", kTaskById);
  conn.prepare("task_by_name", kTaskByName);
  conn.prepare("delete_task_by_id", delete_task_sql("id = $1::uuid"));
  conn.prepare("delete_task_by_name", delete_task_sql("name = $1"));
  conn.prepare("lock_outbox_row", kLockOutboxRow);
  conn.prepare("drop_unsent_outbox_row", kDropUnsentOutboxRow);
  conn.prepare("flip_outbox_to_absent", kFlipOutboxToAbsent);
  conn.prepare("enqueue_deregister", kEnqueueDeregister);
}

std::string TaskRepository::create_agent(pqxx::connection& conn, const std::string& id,
                                         const CreateAgentRequest& req) const {
  pqxx::work tx(conn);
  auto row = tx.exec_prepared1("insert_agent", id, req.name, opt(req.description));
  tx.commit();
  return row[0].as<std::string>();
}

std::optional<std::string> TaskRepository::agent_by_id(pqxx::connection& conn, const std::string& id) const {
  pqxx::nontransaction tx(conn);
  auto r = tx.exec_prepared("agent_by_id", id);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::string>();
}

std::optional<std::string> TaskRepository::agent_by_name(pqxx::connection& conn, const std::string& name) const {
  pqxx::nontransaction tx(conn);
  auto r = tx.exec_prepared("agent_by_name", name);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::string>();
}

std::string TaskRepository::list_agents(pqxx::connection& conn, std::int64_t limit, std::int64_t offset) const {
  pqxx::nontransaction tx(conn);
  return tx.exec_prepared1("list_agents", limit, offset)[0].as<std::string>();
}

std::optional<std::string> TaskRepository::create_task(pqxx::connection& conn, const NewTask& task) const {
  const auto& req = task.request;
  const char* statement = req.agent.id ? "create_task_by_agent_id" : "create_task_by_agent_name";
  const std::string& agent = req.agent.id ? *req.agent.id : *req.agent.name;
  // One statement is its own transaction: autocommit saves the BEGIN and COMMIT round trips.
  pqxx::nontransaction tx(conn);
  auto r = tx.exec_prepared(statement, agent, task.id, opt(req.name), opt(req.params), opt(req.task_metadata),
                            opt(task.creator.user_id), opt(task.creator.service_account_id), task.outbox_principal,
                            dual_write_);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::string>();
}

TaskRepository::GetOrCreate TaskRepository::get_or_create_task(pqxx::connection& conn, const NewTask& task) const {
  const auto& req = task.request;
  if (!req.name) return {create_task(conn, task), true};  // nameless: always a new task
  const char* statement = req.agent.id ? "get_or_create_task_by_agent_id" : "get_or_create_task_by_agent_name";
  const std::string& agent = req.agent.id ? *req.agent.id : *req.agent.name;
  pqxx::work tx(conn);
  auto r = tx.exec_prepared(statement, agent, task.id, opt(req.name), opt(req.params), opt(req.task_metadata),
                            opt(task.creator.user_id), opt(task.creator.service_account_id), task.outbox_principal,
                            dual_write_);
  if (!r.empty()) {
    tx.commit();
    return {r[0][0].as<std::string>(), true};
  }
  // Either the name exists (return that task) or the agent does not.
  auto agent_exists = req.agent.id ? tx.exec_prepared("agent_by_id", agent) : tx.exec_prepared("agent_by_name", agent);
  if (agent_exists.empty()) return {std::nullopt, false};
  auto existing = tx.exec_prepared("task_by_name", *req.name, dual_write_);
  tx.commit();
  if (existing.empty()) return {std::nullopt, false};
  return {existing[0][0].as<std::string>(), false};
}

std::optional<std::string> TaskRepository::task_by_id(pqxx::connection& conn, const std::string& id) const {
  pqxx::nontransaction tx(conn);
  auto r = tx.exec_prepared("task_by_id", id, dual_write_);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::string>();
}

std::optional<std::string> TaskRepository::task_by_name(pqxx::connection& conn, const std::string& name) const {
  pqxx::nontransaction tx(conn);
  auto r = tx.exec_prepared("task_by_name", name, dual_write_);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::string>();
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
  q.sql = "SELECT coalesce(json_agg(page.j ORDER BY page.created_at DESC, page.id), '[]')::text FROM (SELECT " +
          task_json(dual) + " AS j, t.created_at, t.id FROM tasks t" + std::string(kTaskJoins) + where +
          " ORDER BY t.created_at DESC, t.id LIMIT " + limit + " OFFSET " + offset + ") page";
  return q;
}

std::string TaskRepository::list_tasks(pqxx::connection& conn, const TaskFilter& filter) const {
  auto q = build_list_tasks_query(filter);
  pqxx::nontransaction tx(conn);
  return tx.exec_params1(q.sql, pqxx::prepare::make_dynamic_params(q.params))[0].as<std::string>();
}

DeleteResult TaskRepository::finish_delete(pqxx::work& tx, const pqxx::result& deleted,
                                           const std::string& outbox_principal) const {
  DeleteResult result;
  if (deleted.empty()) return result;
  result.id = deleted[0][0].as<std::string>();
  const bool was_registered = deleted[0][1].as<bool>();
  if (dual_write_) {
    auto outbox = tx.exec_prepared("lock_outbox_row", *result.id);
    if (!outbox.empty() && !outbox[0][0].as<bool>()) {
      tx.exec_prepared0("drop_unsent_outbox_row", *result.id);
      result.outbox = OutboxOnDelete::dropped_unsent;
    } else if (!outbox.empty()) {
      tx.exec_prepared0("flip_outbox_to_absent", *result.id, outbox_principal);
      result.outbox = OutboxOnDelete::desire_flipped;
    } else if (was_registered) {
      tx.exec_prepared0("enqueue_deregister", *result.id, outbox_principal);
      result.outbox = OutboxOnDelete::deregister_enqueued;
    }
  }
  tx.commit();
  return result;
}

DeleteResult TaskRepository::delete_task_by_id(pqxx::connection& conn, const std::string& id,
                                               const std::string& outbox_principal) const {
  pqxx::work tx(conn);
  auto deleted = tx.exec_prepared("delete_task_by_id", id);
  return finish_delete(tx, deleted, outbox_principal);
}

DeleteResult TaskRepository::delete_task_by_name(pqxx::connection& conn, const std::string& name,
                                                 const std::string& outbox_principal) const {
  pqxx::work tx(conn);
  auto deleted = tx.exec_prepared("delete_task_by_name", name);
  return finish_delete(tx, deleted, outbox_principal);
}

}  // namespace fgac::api
