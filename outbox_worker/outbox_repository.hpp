// The outbox state machine, in SQL. One row per resource holds its desired state:
//
//   (new row, sent=false) --claim--> leased, sent=true, attempts+1
//   leased --delivered, same generation--> deleted (register: task gets zedtoken)
//   leased --retryable failure--> unleased, next_attempt_at = now() + backoff
//   leased --permanent failure--> dead (dead_at set; taskctl outbox requeue revives it)
//   leased --desire changed meanwhile (generation+1)--> guard misses: lease released,
//            the row stays due and its newer desire is delivered next
//   leased --lease expired (worker died)--> claimable again
//
// Every completion is guarded by the claimed generation and the worker's id.
// Claims and retries write only unindexed columns so those updates stay HOT,
// and never write generation or dead_at except to dead-letter, so they fire no
// NOTIFY. A register's completion updates the task before the outbox row: the
// same lock order as the API's delete, so the two never deadlock.
#pragma once

#include <chrono>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "outbox_worker/outcome.hpp"

namespace fgac::worker {

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

struct OutboxGauges {
  long long pending = 0;
  long long dead = 0;
  double oldest_pending_age_seconds = 0;
};

void prepare_outbox_statements(pqxx::connection& conn);

class OutboxRepository {
 public:
  explicit OutboxRepository(std::string worker_id) : worker_id_(std::move(worker_id)) {}

  std::vector<ClaimedRow> claim(pqxx::connection& conn, long long limit, std::chrono::milliseconds lease) const;
  // True when this generation was completed; false when the desire changed (lease released).
  bool complete(pqxx::connection& conn, const ClaimedRow& row, const std::optional<std::string>& zedtoken) const;
  bool retry(pqxx::connection& conn, const ClaimedRow& row, std::chrono::milliseconds delay,
             std::string_view exception_class, std::optional<unsigned> status, const std::string& error) const;
  bool dead_letter(pqxx::connection& conn, const ClaimedRow& row, std::string_view exception_class,
                   std::optional<unsigned> status, const std::string& error) const;
  // Releases every lease this worker still holds (shutdown).
  long long release_all(pqxx::connection& conn) const;
  static OutboxGauges gauges(pqxx::connection& conn);

  [[nodiscard]] const std::string& worker_id() const { return worker_id_; }

 private:
  bool release_if_superseded(pqxx::transaction_base& tx, const ClaimedRow& row) const;
  std::string worker_id_;
};

}  // namespace fgac::worker
