#include "outbox_worker/outbox_repository.hpp"

#include "common/text.hpp"
#include "common/uuid.hpp"

namespace fgac::worker {
namespace {

// Due rows in enqueue order (the partial index ix_authz_outbox_claim), skipping
// rows other workers hold. The lease is the only thing that makes a claimed row
// invisible to other claims once this transaction commits.
constexpr const char* kClaim = R"sql(
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
RETURNING o.resource_type, o.resource_id, o.parent_type, o.parent_id, o.principal::text, o.desired,
          o.generation, o.attempts, extract(epoch FROM o.enqueued_at)::float8)sql";

constexpr const char* kDeleteDelivered = R"sql(
DELETE FROM authz_outbox
 WHERE resource_type = $1 AND resource_id = $2 AND generation = $3 AND leased_by = $4)sql";

// A register's completion in one statement, so in one round trip with no
// BEGIN/COMMIT around it. The uncorrelated subquery is a one-time filter that
// runs the task update to completion before the delete touches the outbox
// row: the lock order stays tasks row, then outbox row. $5 is the task id
// ($2 as a uuid), $6 the zedtoken.
constexpr const char* kCompleteRegister = R"sql(
WITH synced AS (
  UPDATE tasks SET authz_zedtoken = $6, authz_synced_at = now() WHERE id = $5::uuid RETURNING 1)
DELETE FROM authz_outbox
 WHERE resource_type = $1 AND resource_id = $2 AND generation = $3 AND leased_by = $4
   AND (SELECT count(*) FROM synced) >= 0)sql";

// The desire changed while the call was in flight: free the row at once so
// the newer desire is claimed now, not when the lease would have lapsed.
constexpr const char* kReleaseSuperseded = R"sql(
UPDATE authz_outbox SET leased_until = NULL, leased_by = NULL
 WHERE resource_type = $1 AND resource_id = $2 AND generation <> $3 AND leased_by = $4)sql";

constexpr const char* kScheduleRetry = R"sql(
UPDATE authz_outbox
   SET next_attempt_at = now() + $5::bigint * interval '1 millisecond',
       leased_until = NULL, leased_by = NULL,
       last_exception_class = $6, last_status = $7::int, last_error = $8
 WHERE resource_type = $1 AND resource_id = $2 AND generation = $3 AND leased_by = $4)sql";

constexpr const char* kDeadLetter = R"sql(
UPDATE authz_outbox
   SET dead_at = now(), leased_until = NULL, leased_by = NULL,
       last_exception_class = $5, last_status = $6::int, last_error = $7
 WHERE resource_type = $1 AND resource_id = $2 AND generation = $3 AND leased_by = $4)sql";

constexpr const char* kReleaseAll =
    "UPDATE authz_outbox SET leased_until = NULL, leased_by = NULL WHERE leased_by = $1";

constexpr const char* kGauges = R"sql(
SELECT count(*) FILTER (WHERE dead_at IS NULL),
       count(*) FILTER (WHERE dead_at IS NOT NULL),
       coalesce(extract(epoch FROM now() - min(enqueued_at) FILTER (WHERE dead_at IS NULL)), 0)::float8
  FROM authz_outbox)sql";

// Error text kept on the row is bounded: it is for operators, not a log.
constexpr std::size_t kMaxErrorLength = 500;

// NULL when there was no HTTP answer (network error, timeout).
const char* status_param(std::optional<unsigned> status) {
  static thread_local std::string text;
  if (!status) return nullptr;
  text = std::to_string(*status);
  return text.c_str();
}

std::optional<std::string> opt_field(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

}  // namespace

void prepare_outbox_statements(pqxx::connection& conn) {
  conn.prepare("outbox_claim", kClaim);
  conn.prepare("outbox_delete_delivered", kDeleteDelivered);
  conn.prepare("outbox_complete_register", kCompleteRegister);
  conn.prepare("outbox_release_superseded", kReleaseSuperseded);
  conn.prepare("outbox_schedule_retry", kScheduleRetry);
  conn.prepare("outbox_dead_letter", kDeadLetter);
  conn.prepare("outbox_release_all", kReleaseAll);
  conn.prepare("outbox_gauges", kGauges);
}

std::vector<ClaimedRow> OutboxRepository::claim(pqxx::connection& conn, long long limit,
                                                std::chrono::milliseconds lease) const {
  // One statement is its own transaction: autocommit saves the BEGIN and COMMIT round trips.
  pqxx::nontransaction tx(conn);
  auto result = tx.exec_prepared("outbox_claim", limit, static_cast<long long>(lease.count()), worker_id_);
  std::vector<ClaimedRow> rows;
  rows.reserve(result.size());
  for (const auto& r : result) {
    ClaimedRow row;
    row.resource_type = r[0].as<std::string>();
    row.resource_id = r[1].as<std::string>();
    row.parent_type = opt_field(r[2]);
    row.parent_id = opt_field(r[3]);
    row.principal = r[4].as<std::string>();
    row.op = r[5].as<std::string>() == "absent" ? Op::deregister : Op::register_;
    row.generation = r[6].as<long long>();
    row.attempts = r[7].as<long long>();
    row.enqueued_at = r[8].as<double>();
    rows.push_back(std::move(row));
  }
  return rows;
}

bool OutboxRepository::release_if_superseded(pqxx::transaction_base& tx, const ClaimedRow& row) const {
  tx.exec_prepared("outbox_release_superseded", row.resource_type, row.resource_id, row.generation, worker_id_);
  return false;
}

bool OutboxRepository::complete(pqxx::connection& conn, const ClaimedRow& row,
                                const std::optional<std::string>& zedtoken) const {
  // One statement in autocommit: one round trip per delivery, where BEGIN,
  // task update, delete and COMMIT took four and dominated the worker's CPU.
  pqxx::nontransaction tx(conn);
  pqxx::result deleted;
  // A malformed id names no task; it must not make the completion fail forever.
  if (row.op == Op::register_ && row.resource_type == "task" && is_uuid(row.resource_id)) {
    deleted = tx.exec_prepared("outbox_complete_register", row.resource_type, row.resource_id, row.generation,
                               worker_id_, row.resource_id, zedtoken ? zedtoken->c_str() : nullptr);
  } else {
    deleted =
        tx.exec_prepared("outbox_delete_delivered", row.resource_type, row.resource_id, row.generation, worker_id_);
  }
  // The guarded release needs no transaction with the delete: it only frees a
  // row whose generation moved on and that this worker still holds.
  return deleted.affected_rows() == 1 || release_if_superseded(tx, row);
}

bool OutboxRepository::retry(pqxx::connection& conn, const ClaimedRow& row, std::chrono::milliseconds delay,
                             std::string_view exception_class, std::optional<unsigned> status,
                             const std::string& error) const {
  pqxx::work tx(conn);
  auto updated = tx.exec_prepared("outbox_schedule_retry", row.resource_type, row.resource_id, row.generation,
                                  worker_id_, static_cast<long long>(delay.count()), std::string(exception_class),
                                  status_param(status), storable_text(error, kMaxErrorLength));
  const bool done = updated.affected_rows() == 1 || release_if_superseded(tx, row);
  tx.commit();
  return done;
}

bool OutboxRepository::dead_letter(pqxx::connection& conn, const ClaimedRow& row, std::string_view exception_class,
                                   std::optional<unsigned> status, const std::string& error) const {
  pqxx::work tx(conn);
  auto updated =
      tx.exec_prepared("outbox_dead_letter", row.resource_type, row.resource_id, row.generation, worker_id_,
                       std::string(exception_class), status_param(status), storable_text(error, kMaxErrorLength));
  const bool done = updated.affected_rows() == 1 || release_if_superseded(tx, row);
  tx.commit();
  return done;
}

long long OutboxRepository::release_all(pqxx::connection& conn) const {
  pqxx::work tx(conn);
  auto r = tx.exec_prepared("outbox_release_all", worker_id_);
  tx.commit();
  return static_cast<long long>(r.affected_rows());
}

OutboxGauges OutboxRepository::gauges(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  auto r = tx.exec_prepared1("outbox_gauges");
  return {r[0].as<long long>(), r[1].as<long long>(), r[2].as<double>()};
}

}  // namespace fgac::worker
