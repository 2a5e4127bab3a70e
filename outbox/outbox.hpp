// The authz outbox: every statement that writes authz_outbox or reports on it
// lives in outbox.cpp, each a named Query beside the function that runs it.
// The task API, the worker, taskctl and the tests all go through here.
//
// One row per resource holds its desired state (present: register, absent:
// deregister) under a generation, so per-resource order holds across any
// number of workers. The transitions, and the function that performs each:
//
//   enqueue      insert_task_and_enqueue (task API create: task, link and row
//                present/generation 1/unsent in ONE statement, one round trip);
//                enqueue_registers (taskctl backfill and reconcile)
//   supersede    supersede_on_delete (task API delete, in its transaction):
//                  unsent row      -> deleted (no authz traffic: nothing to undo)
//                  sent row        -> absent, generation+1, due now, attempts 0
//                  no row, synced  -> absent, generation 1
//   claim        WorkerOutbox::claim: due, unleased, live rows oldest first
//                  -> leased_until, leased_by, sent=true, attempts+1
//   complete     WorkerOutbox::complete: delete WHERE generation = g AND
//                leased_by = me; a register also writes zedtoken and
//                authz_synced_at on the task, task rows first and in id
//                order (the delete's lock order, so the two never deadlock);
//                any number of deliveries in one statement
//   hand back    WorkerOutbox::release_undelivered: claimed rows never
//                called (the breaker opened) -> unleased, attempts-1
//   retry        WorkerOutbox::retry: unleased, next_attempt_at = now()+backoff
//   dead-letter  WorkerOutbox::dead_letter: dead_at set, unleased
//   release      WorkerOutbox (guard missed: the generation moved on while the
//                call was in flight) unleases the row at once, so the newer
//                desire goes next; WorkerOutbox::release_all on shutdown
//   requeue      requeue, requeue_all (taskctl): dead -> due, attempts 0
//   lease lapse  no statement: a row whose lease passed is claimable again
//
//            enqueue                claim                complete(g)
//   (none) ---------> due, unsent -------> leased ------------------> (deleted)
//                      ^   ^  ^             | | |
//                      |   |  +---retry-----+ | +--dead-letter--> dead
//                      |   +--release/lapse---+                    |
//                      +--------------------requeue----------------+
//   supersede: any live state -> due under generation+1 (or deleted if unsent)
//
// Claims and retries write only unindexed columns so those updates stay HOT,
// and never write generation or dead_at except to dead-letter, so they fire
// no NOTIFY (see schema/migrations/0007 and 0009).
#pragma once

#include <chrono>
#include <optional>
#include <pqxx/pqxx>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fgac::outbox {

enum class Op { register_, deregister };  // desired present / absent

std::string_view op_name(Op op);

// Prepares every statement of this module on a new connection.
void prepare_statements(pqxx::connection& conn);

// --- enqueue ---------------------------------------------------------------

struct NewTask {
  std::optional<std::string> agent_id;    // exactly one of agent_id and agent_name
  std::optional<std::string> agent_name;  //
  std::string task_id;
  std::optional<std::string> name;
  std::optional<std::string> params;         // JSON text
  std::optional<std::string> task_metadata;  // JSON text
  std::optional<std::string> creator_user_id;
  std::optional<std::string> creator_service_account_id;
  std::string principal;  // credential-free JSON (outbox/principal.hpp)
  bool enqueue = false;   // dual-write on: enqueue the register
};

// Inserts the task, its task_agents row and (enqueue) its outbox row; returns
// the Task JSON. Unset when the agent does not exist (or is Deleted) or a task of that name
// does already (ON CONFLICT (name) DO NOTHING: the caller tells them apart).
std::optional<std::string> insert_task_and_enqueue(pqxx::transaction_base& tx, const NewTask& task);

// A task that needs its register enqueued, with the principal to send.
struct RegisterRequest {
  std::string task_id;
  std::string principal;  // credential-free JSON
};
// Enqueues a register for each task that still exists and has no outbox row
// (parent: its first agent). Returns how many rows were inserted.
long long enqueue_registers(pqxx::transaction_base& tx, const std::vector<RegisterRequest>& requests);

// Tasks with no outbox row, by id after `after`: never registered
// (synced=false, for backfill) or registered with a creator (synced=true, for
// reconcile).
struct TaskCreator {
  std::string task_id;
  std::optional<std::string> user_id;
  std::optional<std::string> service_account_id;
};
long long count_tasks_without_row(pqxx::transaction_base& tx, bool synced);
std::vector<TaskCreator> tasks_without_row(pqxx::transaction_base& tx, bool synced, const std::string& after,
                                           long long limit);
inline constexpr const char* kFirstTaskId = "00000000-0000-0000-0000-000000000000";

// --- supersede -------------------------------------------------------------

enum class OnDelete { none, dropped_unsent, desire_flipped, deregister_enqueued };

// In the transaction that deleted the task (the tasks row is locked first).
OnDelete supersede_on_delete(pqxx::transaction_base& tx, const std::string& task_id, bool was_registered,
                             const std::string& principal);

// --- the worker's transitions ------------------------------------------------

struct ClaimedRow {
  std::string resource_type;
  std::string resource_id;
  std::optional<std::string> parent_type;
  std::optional<std::string> parent_id;
  std::string principal;  // JSON object text, credential-free
  Op op = Op::register_;
  long long generation = 0;
  long long attempts = 0;  // including this one
  double enqueued_at = 0;  // epoch seconds, for the lag metric
};

// What a failed delivery records on its row.
struct Failure {
  std::string_view exception_class;
  std::optional<unsigned> status;  // unset: no HTTP answer
  std::string error;
};

struct Gauges {
  long long pending = 0;
  long long dead = 0;
  double oldest_pending_age_seconds = 0;
};

// A finished delivery to record: the claimed row and, for a register, the
// zedtoken its answer carried.
struct Delivered {
  const ClaimedRow* row = nullptr;
  std::optional<std::string> zedtoken;
};

// Every completion is guarded by the claimed generation and this worker's id;
// each returns true when it applied, false when the desire changed meanwhile
// (the row is then released at once) or another worker holds the row.
class WorkerOutbox {
 public:
  explicit WorkerOutbox(std::string worker_id) : worker_id_(std::move(worker_id)) {}

  std::vector<ClaimedRow> claim(pqxx::connection& conn, long long limit, std::chrono::milliseconds lease) const;
  // Completes every delivery in one statement and one commit; result i says
  // whether deliveries[i] applied.
  std::vector<bool> complete(pqxx::connection& conn, std::span<const Delivered> deliveries) const;
  bool complete(pqxx::connection& conn, const ClaimedRow& row, const std::optional<std::string>& zedtoken) const;
  bool retry(pqxx::connection& conn, const ClaimedRow& row, std::chrono::milliseconds delay,
             const Failure& failure) const;
  bool dead_letter(pqxx::connection& conn, const ClaimedRow& row, const Failure& failure) const;
  // Hands claimed rows back undelivered, due at once, their claim not counted
  // as an attempt. Returns how many it released.
  long long release_undelivered(pqxx::connection& conn, std::span<const ClaimedRow> rows) const;
  // Releases every lease this worker still holds (shutdown).
  long long release_all(pqxx::connection& conn) const;
  static Gauges gauges(pqxx::connection& conn);

  [[nodiscard]] const std::string& worker_id() const { return worker_id_; }

 private:
  void release_superseded(pqxx::transaction_base& tx, const ClaimedRow& row) const;
  std::string worker_id_;
};

// --- the operator's view (taskctl outbox) ------------------------------------

struct OpStatus {
  std::string op;
  long long pending = 0;
  long long dead = 0;
  long long oldest_age_s = 0;
  long long in_flight = 0;
};
std::vector<OpStatus> status_by_op(pqxx::transaction_base& tx);

// Live rows waiting for delivery, counted up to `cap` (cheap however long the queue).
long long pending_up_to(pqxx::transaction_base& tx, long long cap);

// Dead tuples pile up ahead of the claim until vacuum runs: operators see them.
struct TableStats {
  long long live_tuples = 0;
  long long dead_tuples = 0;
  std::string last_autovacuum;
  std::string last_vacuum;
  long long autovacuum_count = 0;
};
std::optional<TableStats> table_stats(pqxx::transaction_base& tx);

struct DeadLetter {
  std::string resource_type;
  std::string resource_id;
  std::string op;
  long long attempts = 0;
  std::string status;  // "-" when there was no HTTP answer
  std::string exception_class;
  std::string error;
  std::string dead_at;
};
std::vector<DeadLetter> dead_letters(pqxx::transaction_base& tx, long long limit);

// Dead rows back to due (the NOTIFY trigger wakes a worker). Returns the count.
long long requeue(pqxx::transaction_base& tx, const std::string& resource_type, const std::string& resource_id);
long long requeue_all(pqxx::transaction_base& tx);

}  // namespace fgac::outbox
