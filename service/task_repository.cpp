#include "service/task_repository.hpp"

#include "common/query.hpp"
#include "common/uuid.hpp"
#include "service/api_error.hpp"

namespace fgac::api {
namespace {

// Every "by id ($1), else by name ($2)" lookup: the name's subquery runs only when $1 is NULL.
#define FGAC_AGENT_BY_REF "a.id = coalesce($1::uuid, (SELECT n.id FROM agents n WHERE n.name = $2))"
#define FGAC_TASK_BY_REF "t.id = coalesce($1::uuid, (SELECT n.id FROM tasks n WHERE n.name = $2))"

constexpr Query kInsertAgent{"insert_agent", R"sql(
INSERT INTO agents AS a (id, name, description, acp_type, created_at, updated_at)
VALUES ($1::uuid, $2, $3, $4, now(), now())
RETURNING agent_json(a)::text AS agent)sql"};

// Register by agent_id ($1): every field but the id is set from the request.
constexpr Query kRegisterById{"register_agent_by_id", R"sql(
UPDATE agents AS a
   SET name = $2, description = $3, acp_url = $4, acp_type = $5, status = 'Ready',
       status_reason = 'Agent registered successfully.',
       registration_metadata = CASE WHEN $6::jsonb IS NULL THEN a.registration_metadata
                                    ELSE coalesce(a.registration_metadata, '{}'::jsonb) || $6::jsonb END,
       agent_input_type = coalesce($7, a.agent_input_type), registered_at = now(), updated_at = now()
 WHERE a.id = $1::uuid
RETURNING agent_json(a)::text AS agent)sql"};

// Register by name: insert, or update the agent of that name (a Deleted one
// comes back as Ready with its old id), but write only when something changes.
constexpr Query kRegisterByName{"register_agent_by_name", R"sql(
INSERT INTO agents AS a (id, name, description, acp_url, acp_type, status, status_reason, registration_metadata,
                         agent_input_type, registered_at, created_at, updated_at)
VALUES ($1::uuid, $2, $3, $4, $5, 'Ready', 'Agent registered successfully.', $6::jsonb, $7, now(), now(), now())
ON CONFLICT (name) DO UPDATE
   SET description = EXCLUDED.description, acp_url = EXCLUDED.acp_url, acp_type = EXCLUDED.acp_type,
       status = 'Ready', status_reason = EXCLUDED.status_reason,
       registration_metadata = CASE WHEN EXCLUDED.registration_metadata IS NULL THEN a.registration_metadata
                                    ELSE coalesce(a.registration_metadata, '{}'::jsonb)
                                         || EXCLUDED.registration_metadata END,
       agent_input_type = coalesce(EXCLUDED.agent_input_type, a.agent_input_type),
       registered_at = now(), updated_at = now()
 WHERE (a.description, a.acp_url, a.acp_type, a.status, a.status_reason, a.agent_input_type)
       IS DISTINCT FROM (EXCLUDED.description, EXCLUDED.acp_url, EXCLUDED.acp_type, 'Ready',
                         EXCLUDED.status_reason, coalesce(EXCLUDED.agent_input_type, a.agent_input_type))
    OR (EXCLUDED.registration_metadata IS NOT NULL
        AND coalesce(a.registration_metadata, '{}'::jsonb) || EXCLUDED.registration_metadata
            IS DISTINCT FROM a.registration_metadata)
RETURNING agent_json(a)::text AS agent)sql"};

constexpr Query kLiveAgent{"live_agent", R"sql(
SELECT agent_json(a)::text AS agent FROM agents a WHERE )sql" FGAC_AGENT_BY_REF R"sql( AND a.status <> 'Deleted')sql"};

constexpr Query kRpcAgent{"rpc_agent", R"sql(
SELECT a.id::text AS id, a.acp_type, a.status = 'Deleted' AS deleted FROM agents a WHERE )sql" FGAC_AGENT_BY_REF};

constexpr Query kDeleteAgent{"delete_agent", R"sql(
UPDATE agents a SET status = 'Deleted', status_reason = 'Agent deleted successfully', updated_at = now()
 WHERE )sql" FGAC_AGENT_BY_REF R"sql( AND a.status <> 'Deleted'
RETURNING a.id::text AS id)sql"};

// A single read (TaskResponse): the Task and its agents, null unless asked
// for ($4); $3 the dual-write flag.
constexpr Query kTaskResponse{"task_response_by_ref", R"sql(
SELECT (task_view(t, $3::boolean)::jsonb
        || jsonb_build_object('agents', CASE WHEN $4::boolean THEN task_agents_json(t.id) END))::text AS task
  FROM tasks t WHERE )sql" FGAC_TASK_BY_REF};

// The Task alone, as the writes answer it.
constexpr Query kTask{"task_by_ref", R"sql(
SELECT task_view(t, $3::boolean)::text AS task FROM tasks t WHERE )sql" FGAC_TASK_BY_REF};

// PUT: $3 merge_params (shallow), $4 task_metadata (replaces), $5 dual-write.
constexpr Query kUpdateTask{"update_task", R"sql(
UPDATE tasks t
   SET params = CASE WHEN $3::jsonb IS NULL THEN t.params ELSE coalesce(t.params, '{}'::jsonb) || $3::jsonb END,
       task_metadata = coalesce($4::jsonb, t.task_metadata), updated_at = now()
 WHERE )sql" FGAC_TASK_BY_REF R"sql(
RETURNING task_view(t, $5::boolean)::text AS task)sql"};

// A status change as a compare-and-swap: from RUNNING, or also from
// INTERRUPTED ($5); $3 the new status, $4 its reason, $6 dual-write.
constexpr Query kTransitionTask{"transition_task", R"sql(
UPDATE tasks t SET status = $3, status_reason = $4, updated_at = now()
 WHERE )sql" FGAC_TASK_BY_REF R"sql( AND (t.status = 'RUNNING' OR ($5::boolean AND t.status = 'INTERRUPTED'))
RETURNING task_view(t, $6::boolean)::text AS task)sql"};

// What a decision needs: the creator, and whether a register was acknowledged
// (synced, and no outbox row still wanting the task present).
constexpr Query kTaskFacts{"task_facts", R"sql(
SELECT t.id::text AS id, t.creator_user_id, t.creator_service_account_id, t.authz_zedtoken,
       t.authz_synced_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM authz_outbox o
                        WHERE o.resource_type = 'task' AND o.resource_id = t.id::text AND o.desired = 'present')
         AS registered
  FROM tasks t WHERE )sql" FGAC_TASK_BY_REF};

constexpr Query kTaskStatus{"task_status", R"sql(
SELECT t.status FROM tasks t WHERE )sql" FGAC_TASK_BY_REF};

// task/create on an existing name ($1): new params ($2) overwrite the stored
// ones whole, and an INTERRUPTED task resumes; nothing is written otherwise.
constexpr Query kRenewTask{"renew_task", R"sql(
UPDATE tasks t
   SET params = coalesce($2::jsonb, t.params),
       status = CASE WHEN t.status = 'INTERRUPTED' THEN 'RUNNING' ELSE t.status END,
       status_reason = CASE WHEN t.status = 'INTERRUPTED' THEN 'Task resumed on next turn' ELSE t.status_reason END,
       updated_at = now()
 WHERE t.name = $1
   AND (t.status = 'INTERRUPTED' OR ($2::jsonb IS NOT NULL AND t.params IS DISTINCT FROM $2::jsonb))
RETURNING task_view(t, $3::boolean)::text AS task)sql"};

// Lock and remove the task and its links; returns whether it was ever
// registered, which decides what the outbox must do.
constexpr Query kDeleteTask{"delete_task", R"sql(
WITH target AS (SELECT t.id FROM tasks t WHERE )sql" FGAC_TASK_BY_REF R"sql( FOR UPDATE),
links AS (DELETE FROM task_agents WHERE task_id IN (SELECT id FROM target))
DELETE FROM tasks WHERE id IN (SELECT id FROM target)
RETURNING id::text AS id, authz_synced_at IS NOT NULL AS was_registered)sql"};

#undef FGAC_AGENT_BY_REF
#undef FGAC_TASK_BY_REF

constexpr Query kAll[] = {kInsertAgent, kRegisterById, kRegisterByName, kLiveAgent,  kRpcAgent,
                          kDeleteAgent, kTaskResponse, kTask,           kUpdateTask, kTransitionTask,
                          kTaskStatus,  kRenewTask,    kDeleteTask,     kTaskFacts};

std::optional<std::string> first(const pqxx::result& r, const char* column) {
  if (r.empty()) return std::nullopt;
  return r[0][column].as<std::string>();
}

// A ref's id that is not a UUID names nothing (callers check path ids first;
// this covers ids from bodies, e.g. task/cancel's task_id).
bool names_nothing(const std::optional<std::string>& id) {
  return id && !is_uuid(*id);
}

// ORDER BY keys for a list: the caller's column (allow-listed by
// requests.cpp), then updated_at, created_at and id, all in one direction.
// `select` carries them out of the page subquery as k0.., `outer` orders the
// aggregate by them, `inner` orders the page.
struct OrderSql {
  std::string select, inner, outer;
};

OrderSql order_sql(const ListOrder& order, std::string_view alias) {
  std::vector<std::string> columns;
  if (order.column) {
    for (char c : *order.column) {
      if ((c < 'a' || c > 'z') && c != '_') throw std::logic_error("order column outside the allow-list");
    }
    columns.push_back(*order.column);
  }
  for (const char* c : {"updated_at", "created_at", "id"}) {
    if (!order.column || *order.column != c) columns.emplace_back(c);
  }
  const char* direction = order.descending ? " DESC" : " ASC";
  OrderSql out;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const auto key = "k" + std::to_string(i);
    const auto sep = i == 0 ? "" : ", ";
    out.select += std::string(", ") + std::string(alias) + "." + columns[i] + " AS " + key;
    out.inner += sep + std::string(alias) + "." + columns[i] + direction;
    out.outer += sep + std::string("page.") + key + direction;
  }
  return out;
}

// A uuid[] literal of the ids that can be our task ids (the others name nothing).
std::string task_id_array(const std::vector<std::string>& ids) {
  std::string out = "{";
  for (const auto& id : ids) {
    if (!is_uuid(id)) continue;
    out += (out.size() > 1 ? "," : "") + id;
  }
  return out + "}";
}

// Enforcement: the caller's own tasks, by the partial creator indexes; pending
// ones included. `param` binds a value and returns its placeholder.
template <class BindParam>
std::string visibility_clause(const TaskFilter::Visibility& v, BindParam& param) {
  std::string mine = "false";
  if (v.user_id) {
    mine = "t.creator_user_id = " + param(*v.user_id);
  } else if (v.service_account_id) {
    mine = "t.creator_service_account_id = " + param(*v.service_account_id);
  }
  if (!v.granted_ids) return mine;
  // Lookup: what SpiceDB lets the caller read, plus their own tasks not yet registered.
  return "((" + mine + " AND (t.authz_synced_at IS NULL OR o.desired = 'present')) OR t.id = ANY(" +
         param(task_id_array(*v.granted_ids)) + "::uuid[]))";
}

}  // namespace

void prepare_task_statements(pqxx::connection& conn) {
  for (const auto& query : kAll) prepare(conn, query);
  outbox::prepare_statements(conn);
}

// --- agents ------------------------------------------------------------------

std::string TaskRepository::create_agent(pqxx::connection& conn, const std::string& id,
                                         const CreateAgentRequest& req) const {
  pqxx::nontransaction tx(conn);
  return exec1(tx, kInsertAgent, id, req.name, nullable(req.description), req.acp_type)["agent"].as<std::string>();
}

std::optional<std::string> TaskRepository::register_agent(pqxx::connection& conn, const std::string& new_id,
                                                          const RegisterAgentRequest& req) const {
  pqxx::nontransaction tx(conn);
  if (req.agent_id) {
    if (names_nothing(req.agent_id)) return std::nullopt;
    return first(exec(tx, kRegisterById, *req.agent_id, req.name, req.description, req.acp_url, req.acp_type,
                      nullable(req.registration_metadata), nullable(req.agent_input_type)),
                 "agent");
  }
  auto written = first(exec(tx, kRegisterByName, new_id, req.name, req.description, req.acp_url, req.acp_type,
                            nullable(req.registration_metadata), nullable(req.agent_input_type)),
                       "agent");
  if (written) return written;
  // Nothing changed: the agent as it is (a fresh snapshot sees a racing insert's row too).
  return first(exec(tx, kLiveAgent, kNull, req.name), "agent");
}

std::optional<std::string> TaskRepository::agent(pqxx::connection& conn, const AgentRef& ref) const {
  if (names_nothing(ref.id)) return std::nullopt;
  pqxx::nontransaction tx(conn);
  return first(exec(tx, kLiveAgent, nullable(ref.id), nullable(ref.name)), "agent");
}

std::optional<RpcAgent> TaskRepository::rpc_agent(pqxx::connection& conn, const AgentRef& ref) const {
  if (names_nothing(ref.id)) return std::nullopt;
  pqxx::nontransaction tx(conn);
  auto r = exec(tx, kRpcAgent, nullable(ref.id), nullable(ref.name));
  if (r.empty()) return std::nullopt;
  return RpcAgent{r[0]["id"].as<std::string>(), r[0]["acp_type"].as<std::string>(), r[0]["deleted"].as<bool>()};
}

std::optional<std::string> TaskRepository::delete_agent(pqxx::connection& conn, const AgentRef& ref) const {
  if (names_nothing(ref.id)) return std::nullopt;
  pqxx::nontransaction tx(conn);
  return first(exec(tx, kDeleteAgent, nullable(ref.id), nullable(ref.name)), "id");
}

ListQuery TaskRepository::build_list_agents_query(const AgentFilter& filter) {
  ListQuery q;
  auto param = [&](std::string value) {
    q.params.push_back(std::move(value));
    return "$" + std::to_string(q.params.size());
  };
  std::string where = " WHERE a.status <> 'Deleted'";
  if (filter.task_id)
    where += " AND a.id IN (SELECT agent_id FROM task_agents WHERE task_id = " + param(*filter.task_id) + "::uuid)";
  const auto order = order_sql(filter.order, "a");
  const auto limit = param(std::to_string(filter.limit)) + "::bigint";
  const auto offset = param(std::to_string((filter.page_number - 1) * filter.limit)) + "::bigint";
  q.sql = "SELECT coalesce(json_agg(page.j ORDER BY " + order.outer + "), '[]')::text FROM (SELECT agent_json(a) AS j" +
          order.select + " FROM agents a" + where + " ORDER BY " + order.inner + " LIMIT " + limit + " OFFSET " +
          offset + ") page";
  return q;
}

std::string TaskRepository::list_agents(pqxx::connection& conn, const AgentFilter& filter) const {
  if (names_nothing(filter.task_id)) return "[]";  // upstream's ids are free text: a miss, not an error
  auto q = build_list_agents_query(filter);
  pqxx::nontransaction tx(conn);
  return tx.exec_params1(q.sql, pqxx::prepare::make_dynamic_params(q.params))[0].as<std::string>();
}

// --- tasks -------------------------------------------------------------------

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
  if (first(exec(tx, kLiveAgent, nullable(task.request.agent.id), nullable(task.request.agent.name)), "agent")) {
    throw ApiError(ErrorKind::malformed, std::string(kDuplicateMessage));
  }
  return std::nullopt;
}

TaskRepository::GetOrCreate TaskRepository::get_or_create_task(pqxx::connection& conn, const NewTask& task) const {
  const auto& req = task.request;
  if (!req.name) return {create_task(conn, task), true};  // nameless: always a new task
  pqxx::nontransaction tx(conn);
  if (auto json = outbox::insert_task_and_enqueue(tx, outbox_task(task))) return {std::move(json), true};
  // Either the name exists (renew and return that task) or the agent does not.
  if (!first(exec(tx, kLiveAgent, nullable(req.agent.id), nullable(req.agent.name)), "agent")) return {};
  if (auto renewed = first(exec(tx, kRenewTask, *req.name, nullable(req.params), dual_write_), "task")) {
    return {std::move(renewed), false};
  }
  return {first(exec(tx, kTask, kNull, *req.name, dual_write_), "task"), false};
}

std::optional<std::string> TaskRepository::task_response(pqxx::connection& conn, const TaskRef& ref,
                                                         bool with_agents) const {
  if (names_nothing(ref.id)) return std::nullopt;
  pqxx::nontransaction tx(conn);
  return first(exec(tx, kTaskResponse, nullable(ref.id), nullable(ref.name), dual_write_, with_agents), "task");
}

std::optional<std::string> TaskRepository::task(pqxx::connection& conn, const TaskRef& ref) const {
  if (names_nothing(ref.id)) return std::nullopt;
  pqxx::nontransaction tx(conn);
  return first(exec(tx, kTask, nullable(ref.id), nullable(ref.name), dual_write_), "task");
}

std::optional<TaskFacts> TaskRepository::task_facts(pqxx::connection& conn, const TaskRef& ref) const {
  if (names_nothing(ref.id)) return std::nullopt;
  pqxx::nontransaction tx(conn);
  auto r = exec(tx, kTaskFacts, nullable(ref.id), nullable(ref.name));
  if (r.empty()) return std::nullopt;
  const auto row = r[0];
  auto text = [&](const char* column) -> std::optional<std::string> {
    if (row[column].is_null()) return std::nullopt;
    return row[column].as<std::string>();
  };
  return TaskFacts{row["id"].as<std::string>(), text("creator_user_id"), text("creator_service_account_id"),
                   row["registered"].as<bool>(), text("authz_zedtoken")};
}

std::optional<std::string> TaskRepository::update_task(pqxx::connection& conn, const TaskRef& ref,
                                                       const UpdateTaskRequest& req) const {
  if (req.empty()) return task(conn, ref);  // upstream: a no-op that answers the task
  if (names_nothing(ref.id)) return std::nullopt;
  pqxx::nontransaction tx(conn);
  return first(exec(tx, kUpdateTask, nullable(ref.id), nullable(ref.name), nullable(req.merge_params),
                    nullable(req.task_metadata), dual_write_),
               "task");
}

TransitionResult TaskRepository::transition_task(pqxx::connection& conn, const TaskRef& ref,
                                                 const Transition& transition, const std::string& reason) const {
  TransitionResult result;
  if (names_nothing(ref.id)) return result;
  pqxx::nontransaction tx(conn);
  const std::string to(transition.to);
  auto changed = first(exec(tx, kTransitionTask, nullable(ref.id), nullable(ref.name), to, reason,
                            transition.from_interrupted, dual_write_),
                       "task");
  if (changed) {
    result.outcome = TransitionResult::Outcome::done;
    result.task = std::move(*changed);
    return result;
  }
  auto status = first(exec(tx, kTaskStatus, nullable(ref.id), nullable(ref.name)), "status");
  if (!status) return result;  // missing, or deleted while we looked
  const bool allowed = *status == "RUNNING" || (transition.from_interrupted && *status == "INTERRUPTED");
  // Not allowed now: the answer names the status. Allowed now: it changed between the two statements.
  result.outcome = allowed ? TransitionResult::Outcome::raced : TransitionResult::Outcome::not_allowed;
  result.current_status = std::move(*status);
  return result;
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
  if (filter.visible_to) add(visibility_clause(*filter.visible_to, param));
  // Containment, served by the partial GIN index of migration 0013.
  if (filter.task_metadata)
    add("t.task_metadata IS NOT NULL AND t.task_metadata @> " + param(*filter.task_metadata) + "::jsonb");
  const auto dual = param(dual_write_ ? "true" : "false") + "::boolean";
  const auto agents = filter.with_agents ? std::string("task_agents_json(t.id)") : std::string("NULL::json");
  const auto order = order_sql(filter.order, "t");
  const auto limit = param(std::to_string(filter.limit)) + "::bigint";
  const auto offset = param(std::to_string((filter.page_number - 1) * filter.limit)) + "::bigint";
  q.sql =
      // A list leaves params out, as upstream does: they can hold one caller's secrets.
      "SELECT coalesce(json_agg(page.j ORDER BY " + order.outer +
      "), '[]')::text FROM (SELECT "
      "(task_json(t, fa.agent_id, " +
      dual + ", o.dead_at IS NOT NULL, o.resource_id IS NOT NULL)::jsonb - 'params') || jsonb_build_object('agents', " +
      agents + ") AS j" + order.select +
      " FROM tasks t"
      " LEFT JOIN LATERAL task_first_agent(t.id) fa ON true"
      " LEFT JOIN authz_outbox o ON o.resource_type = 'task' AND o.resource_id = t.id::text" +
      where + " ORDER BY " + order.inner + " LIMIT " + limit + " OFFSET " + offset + ") page";
  return q;
}

std::string TaskRepository::list_tasks(pqxx::connection& conn, const TaskFilter& filter) const {
  auto q = build_list_tasks_query(filter);
  pqxx::nontransaction tx(conn);
  return tx.exec_params1(q.sql, pqxx::prepare::make_dynamic_params(q.params))[0].as<std::string>();
}

DeleteResult TaskRepository::delete_task(pqxx::connection& conn, const TaskRef& ref,
                                         const std::string& outbox_principal) const {
  DeleteResult result;
  if (names_nothing(ref.id)) return result;
  pqxx::work tx(conn);
  auto deleted = exec(tx, kDeleteTask, nullable(ref.id), nullable(ref.name));
  if (deleted.empty()) return result;
  result.id = deleted[0]["id"].as<std::string>();
  if (dual_write_) {
    result.outbox =
        outbox::supersede_on_delete(tx, *result.id, deleted[0]["was_registered"].as<bool>(), outbox_principal);
  }
  tx.commit();
  return result;
}

}  // namespace fgac::api
