// Recording a delivery's outcome on its outbox row (River's completer): the
// delivery state machine writes through this interface, so it is unit-tested
// with a fake; PgCompletion runs the outbox module's guarded statements on
// the worker's database pool.
#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/asio.hpp"
#include "common/pg_pool.hpp"
#include "outbox/outbox.hpp"
#include "outbox_worker/worker_metrics.hpp"

namespace fgac::worker {

class Completion {
 public:
  virtual ~Completion() = default;
  // Each returns true when it applied; false when the desire changed while
  // the call was in flight (the row is released for its newer desire) or
  // another worker holds the row now. Throws when the database fails.
  virtual boost::asio::awaitable<bool> complete(const outbox::ClaimedRow& row,
                                                const std::optional<std::string>& zedtoken) = 0;
  virtual boost::asio::awaitable<bool> retry(const outbox::ClaimedRow& row, std::chrono::milliseconds delay,
                                             const outbox::Failure& failure) = 0;
  virtual boost::asio::awaitable<bool> dead_letter(const outbox::ClaimedRow& row, const outbox::Failure& failure) = 0;
};

// Runs the outbox module's guarded statements on the worker's pool.
// Completions, the hot path, are group-committed: the complete() calls that
// arrive within `window` of the first, or while a batch is being written,
// share one statement and one commit (at most `max_batch`), so a completion
// waits at most the window plus one batch, and under load one commit
// carries all that finished meanwhile. A batch that fails is written again one row at a time,
// so that a bad row fails only its own delivery. Retries and dead letters
// (rare, and already paced by backoff and the breaker) are one statement each.
class PgCompletion final : public Completion {
 public:
  static constexpr std::size_t kDefaultMaxBatch = 500;
  static constexpr std::chrono::milliseconds kDefaultWindow{2};

  PgCompletion(boost::asio::io_context& ioc, PgPool& pool, const outbox::WorkerOutbox& outbox, WorkerMetrics& metrics,
               std::chrono::milliseconds window = kDefaultWindow, std::size_t max_batch = kDefaultMaxBatch);

  boost::asio::awaitable<bool> complete(const outbox::ClaimedRow& row,
                                        const std::optional<std::string>& zedtoken) override;
  boost::asio::awaitable<bool> retry(const outbox::ClaimedRow& row, std::chrono::milliseconds delay,
                                     const outbox::Failure& failure) override;
  boost::asio::awaitable<bool> dead_letter(const outbox::ClaimedRow& row, const outbox::Failure& failure) override;

 private:
  struct Waiting;
  using Batch = std::vector<std::shared_ptr<Waiting>>;
  struct Outcome {
    bool applied = false;
    std::exception_ptr error;
  };
  boost::asio::awaitable<void> write_batches();
  boost::asio::awaitable<void> write(const Batch& batch);
  boost::asio::awaitable<std::vector<Outcome>> write_one_by_one(const std::vector<outbox::Delivered>& items);

  boost::asio::io_context& ioc_;
  PgPool& pool_;
  const outbox::WorkerOutbox& outbox_;
  WorkerMetrics& metrics_;
  std::chrono::milliseconds window_;
  std::size_t max_batch_;
  Batch queue_;
  bool writing_ = false;
};

}  // namespace fgac::worker
