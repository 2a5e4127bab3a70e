#include "outbox/outbox.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>
#include <unordered_set>

#include "common/query.hpp"
#include "common/text.hpp"
#include "common/uuid.hpp"

namespace fgac::outbox {
namespace {

// --- enqueue ---------------------------------------------------------------

// The task API's create, in one statement and so one round trip: the agent
// ($1 id, else $2 name: the name's subquery runs only when $1 is NULL), the
// task, its link and, with dual-write on ($11), the register. A duplicate name
// inserts nothing (the caller asks why).
constexpr Query kInsertTaskAndEnqueue{"outbox_insert_task_and_enqueue", R"sql(
WITH agent AS (
  SELECT id FROM agents
   WHERE id = coalesce($1::uuid, (SELECT a.id FROM agents a WHERE a.name = $2)) AND status <> 'Deleted'),
task AS (
  INSERT INTO tasks (id, name, status, params, task_metadata, creator_user_id, creator_service_account_id,
                     created_at, updated_at)
  SELECT $3::uuid, $4, 'RUNNING', $5::jsonb, $6::jsonb, $7, $8, now(), now() FROM agent
  ON CONFLICT (name) DO NOTHING
  RETURNING *),
link AS (
  INSERT INTO task_agents (task_id, agent_id, created_at) SELECT task.id, agent.id, now() FROM task, agent),
outbox AS (
  INSERT INTO authz_outbox (resource_type, resource_id, parent_type, parent_id, principal, desired, generation,
                            enqueued_at)
  SELECT 'task', task.id::text, 'agent', agent.id::text, $9::jsonb, 'present', 1, now()
    FROM task, agent WHERE $10::boolean)
SELECT task_json(task::tasks, agent.id, $10::boolean, false, true)::text AS task FROM task, agent)sql"};

// Registers for existing tasks that have no row yet; a task deleted meanwhile
// is skipped by the join, a row enqueued meanwhile by the conflict.
constexpr Query kEnqueueRegisters{"outbox_enqueue_registers", R"sql(
INSERT INTO authz_outbox (resource_type, resource_id, parent_type, parent_id, principal, desired, generation,
                          enqueued_at)
SELECT 'task', t.id::text, CASE WHEN fa.agent_id IS NULL THEN NULL ELSE 'agent' END, fa.agent_id::text,
       r.principal, 'present', 1, now()
  FROM jsonb_to_recordset($1::jsonb) AS r(task_id uuid, principal jsonb)
  JOIN tasks t ON t.id = r.task_id
  LEFT JOIN LATERAL task_first_agent(t.id) fa ON true
ON CONFLICT DO NOTHING)sql"};

// $1: synced. Reconcile ($1 true) only asks about tasks with a creator.
constexpr Query kCountTasksWithoutRow{"outbox_count_tasks_without_row", R"sql(
SELECT count(*) AS n FROM tasks t
 WHERE (t.authz_synced_at IS NOT NULL) = $1::boolean
   AND (NOT $1::boolean OR t.creator_user_id IS NOT NULL OR t.creator_service_account_id IS NOT NULL)
   AND NOT EXISTS (SELECT 1 FROM authz_outbox o WHERE o.resource_type = 'task' AND o.resource_id = t.id::text))sql"};

// One keyset page of the above, by id after $2.
constexpr Query kTasksWithoutRow{"outbox_tasks_without_row", R"sql(
SELECT t.id::text AS id, t.creator_user_id, t.creator_service_account_id FROM tasks t
 WHERE (t.authz_synced_at IS NOT NULL) = $1::boolean
   AND (NOT $1::boolean OR t.creator_user_id IS NOT NULL OR t.creator_service_account_id IS NOT NULL)
   AND t.id > $2::uuid
   AND NOT EXISTS (SELECT 1 FROM authz_outbox o WHERE o.resource_type = 'task' AND o.resource_id = t.id::text)
 ORDER BY t.id LIMIT $3)sql"};

// --- supersede -------------------------------------------------------------

// Lock order everywhere is tasks row, then outbox row: the worker's completion
// (task update, then outbox delete) follows it too, so a delete racing a
// delivery never deadlocks and always sees the latest outbox state.
constexpr Query kLockRow{"outbox_lock_row",
                         "SELECT sent FROM authz_outbox WHERE resource_type = 'task' AND resource_id = $1 "
                         "FOR UPDATE"};
// A register never sent has caused no authz traffic: dropping it is the whole undo.
constexpr Query kDropUnsent{"outbox_drop_unsent",
                            "DELETE FROM authz_outbox WHERE resource_type = 'task' AND resource_id = $1"};
// A register already sent (delivered, in flight or retrying): the desire
// becomes absent under a new generation, so an in-flight completion of the old
// one cannot delete the row and the deregister follows it.
constexpr Query kFlipToAbsent{"outbox_flip_to_absent", R"sql(
UPDATE authz_outbox
   SET desired = 'absent', generation = generation + 1, principal = $2::jsonb, enqueued_at = now(),
       attempts = 0, next_attempt_at = now(), dead_at = NULL,
       last_error = NULL, last_exception_class = NULL, last_status = NULL
 WHERE resource_type = 'task' AND resource_id = $1)sql"};
// Registered and delivered earlier (row gone): enqueue the deregister.
constexpr Query kEnqueueDeregister{"outbox_enqueue_deregister", R"sql(
INSERT INTO authz_outbox (resource_type, resource_id, principal, desired, generation, enqueued_at)
VALUES ('task', $1, $2::jsonb, 'absent', 1, now()))sql"};

// --- the worker's transitions ------------------------------------------------

// Due rows in enqueue order (the partial index ix_authz_outbox_claim), skipping
// rows other workers hold. The lease is the only thing that makes a claimed row
// invisible to other claims once this statement commits.
constexpr Query kClaim{"outbox_claim", R"sql(
WITH due AS (
  SELECT resource_type, resource_id
    FROM authz_outbox
   WHERE dead_at IS NULL
     AND next_attempt_at <= now()
     AND (leased_until IS NULL OR leased_until < now())
   ORDER BY enqueued_at
   LIMIT $1
   FOR UPDATE SKIP LOCKED)
UPDATE authz_outbox o
   SET leased_until = now() + $2::bigint * interval '1 millisecond',
       leased_by = $3,
       sent = true,
       attempts = o.attempts + 1
  FROM due
 WHERE o.resource_type = due.resource_type AND o.resource_id = due.resource_id
RETURNING o.resource_type, o.resource_id, o.parent_type, o.parent_id, o.principal::text AS principal, o.desired,
          o.generation, o.attempts, extract(epoch FROM o.enqueued_at)::float8 AS enqueued_at)sql"};

// Every delivery that finished within one short window, completed in one
// statement (so one round trip and one commit, in autocommit): $1 the
// deliveries as a JSON array of {resource_type, resource_id, generation}, $2
// the registered tasks among them as {task_id, zedtoken}, $3 this worker.
// Lock order as in the API's transactions, tasks rows before outbox rows:
// `locked` takes the tasks rows in id order, and the uncorrelated subqueries
// on `synced` are one-time filters that run the task update to completion
// before either outbox statement touches a row. A delivery whose generation
// moved on (the desire changed while the call was in flight) is released at
// once rather than when its lease lapses. Returns the rows it deleted.
constexpr Query kCompleteDeliveries{"outbox_complete_deliveries", R"sql(
WITH done AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS d(resource_type text, resource_id text, generation bigint)),
registered AS (
  SELECT * FROM jsonb_to_recordset($2::jsonb) AS r(task_id uuid, zedtoken text)),
locked AS (
  SELECT t.id FROM tasks t WHERE t.id IN (SELECT task_id FROM registered) ORDER BY t.id FOR UPDATE),
synced AS (
  UPDATE tasks t SET authz_zedtoken = r.zedtoken, authz_synced_at = now()
    FROM registered r, locked l
   WHERE t.id = r.task_id AND l.id = t.id
  RETURNING 1),
released AS (
  UPDATE authz_outbox o SET leased_until = NULL, leased_by = NULL
    FROM done d
   WHERE o.resource_type = d.resource_type AND o.resource_id = d.resource_id AND o.generation <> d.generation
     AND o.leased_by = $3 AND (SELECT count(*) FROM synced) >= 0
  RETURNING 1)
DELETE FROM authz_outbox o
 USING done d
 WHERE o.resource_type = d.resource_type AND o.resource_id = d.resource_id AND o.generation = d.generation
   AND o.leased_by = $3 AND (SELECT count(*) FROM synced) >= 0
RETURNING o.resource_type, o.resource_id)sql"};

// The desire changed while the call was in flight: free the row at once so
// the newer desire is claimed now, not when the lease would have lapsed.
constexpr Query kReleaseSuperseded{"outbox_release_superseded", R"sql(
UPDATE authz_outbox SET leased_until = NULL, leased_by = NULL
 WHERE resource_type = $1 AND resource_id = $2 AND generation <> $3 AND leased_by = $4)sql"};

// Claimed rows handed back undelivered (the worker's circuit breaker opened
// while they waited for a call slot): due again at once, and the claim's
// attempt does not count.
constexpr Query kReleaseUndelivered{"outbox_release_undelivered", R"sql(
UPDATE authz_outbox o
   SET leased_until = NULL, leased_by = NULL, attempts = greatest(o.attempts - 1, 0)
  FROM jsonb_to_recordset($1::jsonb) AS d(resource_type text, resource_id text, generation bigint)
 WHERE o.resource_type = d.resource_type AND o.resource_id = d.resource_id AND o.generation = d.generation
   AND o.leased_by = $2)sql"};

constexpr Query kScheduleRetry{"outbox_schedule_retry", R"sql(
UPDATE authz_outbox
   SET next_attempt_at = now() + $5::bigint * interval '1 millisecond',
       leased_until = NULL, leased_by = NULL,
       last_exception_class = $6, last_status = $7::int, last_error = $8
 WHERE resource_type = $1 AND resource_id = $2 AND generation = $3 AND leased_by = $4)sql"};

constexpr Query kDeadLetter{"outbox_dead_letter", R"sql(
UPDATE authz_outbox
   SET dead_at = now(), leased_until = NULL, leased_by = NULL,
       last_exception_class = $5, last_status = $6::int, last_error = $7
 WHERE resource_type = $1 AND resource_id = $2 AND generation = $3 AND leased_by = $4)sql"};

constexpr Query kReleaseAll{"outbox_release_all",
                            "UPDATE authz_outbox SET leased_until = NULL, leased_by = NULL WHERE leased_by = $1"};

constexpr Query kGauges{"outbox_gauges", R"sql(
SELECT count(*) FILTER (WHERE dead_at IS NULL) AS pending,
       count(*) FILTER (WHERE dead_at IS NOT NULL) AS dead,
       coalesce(extract(epoch FROM now() - min(enqueued_at) FILTER (WHERE dead_at IS NULL)), 0)::float8 AS oldest
  FROM authz_outbox)sql"};

// How many live rows wait, counted no further than $1 (the claim's partial
// index; a paced backfill asks this before every batch).
constexpr Query kPendingUpTo{"outbox_pending_up_to", R"sql(
SELECT count(*) AS pending FROM (SELECT 1 FROM authz_outbox WHERE dead_at IS NULL LIMIT $1) p)sql"};

// --- the operator's view -----------------------------------------------------

constexpr Query kStatusByOp{"outbox_status_by_op", R"sql(
SELECT CASE desired WHEN 'present' THEN 'register' ELSE 'deregister' END AS op,
       count(*) FILTER (WHERE dead_at IS NULL) AS pending,
       count(*) FILTER (WHERE dead_at IS NOT NULL) AS dead,
       coalesce(extract(epoch FROM now() - min(enqueued_at) FILTER (WHERE dead_at IS NULL)), 0)::bigint AS oldest_s,
       count(*) FILTER (WHERE leased_until > now()) AS in_flight
  FROM authz_outbox GROUP BY 1 ORDER BY 1)sql"};

constexpr Query kTableStats{"outbox_table_stats", R"sql(
SELECT n_live_tup, n_dead_tup, coalesce(last_autovacuum::text, 'never') AS last_autovacuum,
       coalesce(last_vacuum::text, 'never') AS last_vacuum, autovacuum_count
  FROM pg_stat_user_tables WHERE relname = 'authz_outbox')sql"};

constexpr Query kDeadLetters{"outbox_dead_letters", R"sql(
SELECT resource_type, resource_id, CASE desired WHEN 'present' THEN 'register' ELSE 'deregister' END AS op,
       attempts, coalesce(last_status::text, '-') AS status, coalesce(last_exception_class, '-') AS exception_class,
       coalesce(last_error, '') AS error, dead_at::text AS dead_at
  FROM authz_outbox WHERE dead_at IS NOT NULL ORDER BY dead_at LIMIT $1)sql"};

// dead_at back to NULL fires the NOTIFY trigger, so a worker picks it up at once.
constexpr Query kRequeue{"outbox_requeue", R"sql(
UPDATE authz_outbox SET dead_at = NULL, attempts = 0, next_attempt_at = now(),
       last_error = NULL, last_exception_class = NULL, last_status = NULL
 WHERE dead_at IS NOT NULL AND (NOT $1::boolean OR (resource_type = $2 AND resource_id = $3)))sql"};

constexpr Query kAll[] = {kInsertTaskAndEnqueue,
                          kEnqueueRegisters,
                          kCountTasksWithoutRow,
                          kTasksWithoutRow,
                          kLockRow,
                          kDropUnsent,
                          kFlipToAbsent,
                          kEnqueueDeregister,
                          kClaim,
                          kCompleteDeliveries,
                          kReleaseSuperseded,
                          kReleaseUndelivered,
                          kScheduleRetry,
                          kDeadLetter,
                          kReleaseAll,
                          kGauges,
                          kPendingUpTo,
                          kStatusByOp,
                          kTableStats,
                          kDeadLetters,
                          kRequeue};

// Error text kept on the row is bounded: it is for operators, not a log.
constexpr std::size_t kMaxErrorLength = 500;

std::optional<std::string> opt_field(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

// NULL when there was no HTTP answer (network error, timeout).
std::optional<std::string> status_text(std::optional<unsigned> status) {
  if (!status) return std::nullopt;
  return std::to_string(*status);
}

ClaimedRow claimed_row(const pqxx::row& r) {
  return {.resource_type = r["resource_type"].as<std::string>(),
          .resource_id = r["resource_id"].as<std::string>(),
          .parent_type = opt_field(r["parent_type"]),
          .parent_id = opt_field(r["parent_id"]),
          .principal = r["principal"].as<std::string>(),
          .op = r["desired"].as<std::string>() == "absent" ? Op::deregister : Op::register_,
          .generation = r["generation"].as<long long>(),
          .attempts = r["attempts"].as<long long>(),
          .enqueued_at = r["enqueued_at"].as<double>()};
}

// A claimed row as the batch statements read it (jsonb_to_recordset): which
// row, and the generation the claim saw.
nlohmann::json claimed_generation(const ClaimedRow& row) {
  return {{"resource_type", row.resource_type}, {"resource_id", row.resource_id}, {"generation", row.generation}};
}

// One outbox row's key as one string (a resource type holds no control characters).
std::string row_key(std::string_view resource_type, std::string_view resource_id) {
  std::string key;
  key.reserve(resource_type.size() + 1 + resource_id.size());
  key.append(resource_type).push_back('\x1f');
  key.append(resource_id);
  return key;
}

DeadLetter dead_letter_row(const pqxx::row& r) {
  return {.resource_type = r["resource_type"].as<std::string>(),
          .resource_id = r["resource_id"].as<std::string>(),
          .op = r["op"].as<std::string>(),
          .attempts = r["attempts"].as<long long>(),
          .status = r["status"].as<std::string>(),
          .exception_class = r["exception_class"].as<std::string>(),
          .error = r["error"].as<std::string>(),
          .dead_at = r["dead_at"].as<std::string>()};
}

}  // namespace

std::string_view op_name(Op op) {
  return op == Op::register_ ? "register" : "deregister";
}

void prepare_statements(pqxx::connection& conn) {
  for (const auto& query : kAll) prepare(conn, query);
}

std::optional<std::string> insert_task_and_enqueue(pqxx::transaction_base& tx, const NewTask& task) {
  auto r =
      exec(tx, kInsertTaskAndEnqueue, nullable(task.agent_id), nullable(task.agent_name), task.task_id,
           nullable(task.name), nullable(task.params), nullable(task.task_metadata), nullable(task.creator_user_id),
           nullable(task.creator_service_account_id), task.principal, task.enqueue);
  if (r.empty()) return std::nullopt;
  return r[0]["task"].as<std::string>();
}

long long enqueue_registers(pqxx::transaction_base& tx, const std::vector<RegisterRequest>& requests) {
  if (requests.empty()) return 0;
  auto batch = nlohmann::json::array();
  for (const auto& request : requests) {
    batch.push_back({{"task_id", request.task_id}, {"principal", nlohmann::json::parse(request.principal)}});
  }
  return static_cast<long long>(exec(tx, kEnqueueRegisters, batch.dump()).affected_rows());
}

long long count_tasks_without_row(pqxx::transaction_base& tx, bool synced) {
  return exec1(tx, kCountTasksWithoutRow, synced)["n"].as<long long>();
}

std::vector<TaskCreator> tasks_without_row(pqxx::transaction_base& tx, bool synced, const std::string& after,
                                           long long limit) {
  std::vector<TaskCreator> out;
  for (const auto& r : exec(tx, kTasksWithoutRow, synced, after, limit)) {
    out.push_back(
        {r["id"].as<std::string>(), opt_field(r["creator_user_id"]), opt_field(r["creator_service_account_id"])});
  }
  return out;
}

OnDelete supersede_on_delete(pqxx::transaction_base& tx, const std::string& task_id, bool was_registered,
                             const std::string& principal) {
  auto row = exec(tx, kLockRow, task_id);
  if (!row.empty() && !row[0]["sent"].as<bool>()) {
    exec0(tx, kDropUnsent, task_id);
    return OnDelete::dropped_unsent;
  }
  if (!row.empty()) {
    exec0(tx, kFlipToAbsent, task_id, principal);
    return OnDelete::desire_flipped;
  }
  if (!was_registered) return OnDelete::none;
  exec0(tx, kEnqueueDeregister, task_id, principal);
  return OnDelete::deregister_enqueued;
}

std::vector<ClaimedRow> WorkerOutbox::claim(pqxx::connection& conn, long long limit,
                                            std::chrono::milliseconds lease) const {
  // One statement is its own transaction: autocommit saves the BEGIN and COMMIT round trips.
  pqxx::nontransaction tx(conn);
  auto result = exec(tx, kClaim, limit, static_cast<long long>(lease.count()), worker_id_);
  std::vector<ClaimedRow> rows;
  rows.reserve(result.size());
  for (const auto& r : result) rows.push_back(claimed_row(r));
  return rows;
}

void WorkerOutbox::release_superseded(pqxx::transaction_base& tx, const ClaimedRow& row) const {
  exec(tx, kReleaseSuperseded, row.resource_type, row.resource_id, row.generation, worker_id_);
}

std::vector<bool> WorkerOutbox::complete(pqxx::connection& conn, std::span<const Delivered> deliveries) const {
  // Sorted, so that two batches touching the same rows would lock them in the same order.
  std::vector<const Delivered*> sorted;
  sorted.reserve(deliveries.size());
  for (const auto& d : deliveries) sorted.push_back(&d);
  std::sort(sorted.begin(), sorted.end(), [](const Delivered* a, const Delivered* b) {
    return std::tie(a->row->resource_type, a->row->resource_id) < std::tie(b->row->resource_type, b->row->resource_id);
  });
  auto done = nlohmann::json::array();
  auto registered = nlohmann::json::array();
  for (const Delivered* d : sorted) {
    const ClaimedRow& row = *d->row;
    done.push_back(claimed_generation(row));
    // A malformed id names no task; it must not make the completion fail forever.
    if (row.op == Op::register_ && row.resource_type == "task" && is_uuid(row.resource_id)) {
      registered.push_back({{"task_id", row.resource_id},
                            {"zedtoken", d->zedtoken ? nlohmann::json(*d->zedtoken) : nlohmann::json(nullptr)}});
    }
  }
  // One statement in autocommit: one round trip and one commit for the whole batch.
  pqxx::nontransaction tx(conn);
  const auto deleted = exec(tx, kCompleteDeliveries, done.dump(), registered.dump(), worker_id_);
  std::unordered_set<std::string> deleted_keys;
  for (const auto& r : deleted) deleted_keys.insert(row_key(r["resource_type"].c_str(), r["resource_id"].c_str()));
  std::vector<bool> applied(deliveries.size(), false);
  for (std::size_t i = 0; i < deliveries.size(); ++i) {
    const ClaimedRow& row = *deliveries[i].row;
    applied[i] = deleted_keys.contains(row_key(row.resource_type, row.resource_id));
  }
  return applied;
}

bool WorkerOutbox::complete(pqxx::connection& conn, const ClaimedRow& row,
                            const std::optional<std::string>& zedtoken) const {
  const Delivered one{.row = &row, .zedtoken = zedtoken};
  return complete(conn, std::span<const Delivered>(&one, 1)).front();
}

long long WorkerOutbox::release_undelivered(pqxx::connection& conn, std::span<const ClaimedRow> rows) const {
  auto items = nlohmann::json::array();
  for (const auto& row : rows) items.push_back(claimed_generation(row));
  pqxx::nontransaction tx(conn);
  return static_cast<long long>(exec(tx, kReleaseUndelivered, items.dump(), worker_id_).affected_rows());
}

bool WorkerOutbox::retry(pqxx::connection& conn, const ClaimedRow& row, std::chrono::milliseconds delay,
                         const Failure& failure) const {
  pqxx::work tx(conn);
  auto updated = exec(tx, kScheduleRetry, row.resource_type, row.resource_id, row.generation, worker_id_,
                      static_cast<long long>(delay.count()), std::string(failure.exception_class),
                      nullable(status_text(failure.status)), storable_text(failure.error, kMaxErrorLength));
  const bool applied = updated.affected_rows() == 1;
  if (!applied) release_superseded(tx, row);
  tx.commit();
  return applied;
}

bool WorkerOutbox::dead_letter(pqxx::connection& conn, const ClaimedRow& row, const Failure& failure) const {
  pqxx::work tx(conn);
  auto updated = exec(tx, kDeadLetter, row.resource_type, row.resource_id, row.generation, worker_id_,
                      std::string(failure.exception_class), nullable(status_text(failure.status)),
                      storable_text(failure.error, kMaxErrorLength));
  const bool applied = updated.affected_rows() == 1;
  if (!applied) release_superseded(tx, row);
  tx.commit();
  return applied;
}

long long WorkerOutbox::release_all(pqxx::connection& conn) const {
  pqxx::work tx(conn);
  auto r = exec(tx, kReleaseAll, worker_id_);
  tx.commit();
  return static_cast<long long>(r.affected_rows());
}

Gauges WorkerOutbox::gauges(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  auto r = exec1(tx, kGauges);
  return {r["pending"].as<long long>(), r["dead"].as<long long>(), r["oldest"].as<double>()};
}

std::vector<OpStatus> status_by_op(pqxx::transaction_base& tx) {
  std::vector<OpStatus> out;
  for (const auto& r : exec(tx, kStatusByOp)) {
    out.push_back({r["op"].as<std::string>(), r["pending"].as<long long>(), r["dead"].as<long long>(),
                   r["oldest_s"].as<long long>(), r["in_flight"].as<long long>()});
  }
  return out;
}

long long pending_up_to(pqxx::transaction_base& tx, long long cap) {
  return exec1(tx, kPendingUpTo, cap)["pending"].as<long long>();
}

std::optional<TableStats> table_stats(pqxx::transaction_base& tx) {
  auto r = exec(tx, kTableStats);
  if (r.empty()) return std::nullopt;
  const auto& v = r[0];
  return TableStats{v["n_live_tup"].as<long long>(), v["n_dead_tup"].as<long long>(),
                    v["last_autovacuum"].as<std::string>(), v["last_vacuum"].as<std::string>(),
                    v["autovacuum_count"].as<long long>()};
}

std::vector<DeadLetter> dead_letters(pqxx::transaction_base& tx, long long limit) {
  std::vector<DeadLetter> out;
  for (const auto& r : exec(tx, kDeadLetters, limit)) out.push_back(dead_letter_row(r));
  return out;
}

long long requeue(pqxx::transaction_base& tx, const std::string& resource_type, const std::string& resource_id) {
  return static_cast<long long>(exec(tx, kRequeue, true, resource_type, resource_id).affected_rows());
}

long long requeue_all(pqxx::transaction_base& tx) {
  return static_cast<long long>(exec(tx, kRequeue, false, kNull, kNull).affected_rows());
}

}  // namespace fgac::outbox
