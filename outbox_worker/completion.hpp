// Recording a delivery's outcome on its outbox row (River's completer): the
// delivery state machine writes through this interface, so it is unit-tested
// with a fake; PgCompletion runs the outbox module's guarded statements on
// the worker's database pool.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/asio.hpp"
#include "common/pg_pool.hpp"
#include "outbox/outbox.hpp"

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

class PgCompletion final : public Completion {
 public:
  PgCompletion(PgPool& pool, const outbox::WorkerOutbox& outbox) : pool_(pool), outbox_(outbox) {}

  boost::asio::awaitable<bool> complete(const outbox::ClaimedRow& row,
                                        const std::optional<std::string>& zedtoken) override;
  boost::asio::awaitable<bool> retry(const outbox::ClaimedRow& row, std::chrono::milliseconds delay,
                                     const outbox::Failure& failure) override;
  boost::asio::awaitable<bool> dead_letter(const outbox::ClaimedRow& row, const outbox::Failure& failure) override;

 private:
  PgPool& pool_;
  const outbox::WorkerOutbox& outbox_;
};

}  // namespace fgac::worker
