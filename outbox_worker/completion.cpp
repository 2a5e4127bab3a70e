#include "outbox_worker/completion.hpp"

#include <exception>

namespace fgac::worker {

namespace asio = boost::asio;

// One complete() waiting for its batch: the timer is its wake-up (cancelled
// when the batch is written), the rest what the batch decided for it.
struct PgCompletion::Waiting {
  Waiting(asio::io_context& ioc, const outbox::ClaimedRow& row, std::optional<std::string> zedtoken)
      : delivered{.row = &row, .zedtoken = std::move(zedtoken)}, wake(ioc, asio::steady_timer::time_point::max()) {}

  void finish(bool was_applied, std::exception_ptr failure) {
    applied = was_applied;
    error = std::move(failure);
    finished = true;
    wake.cancel();
  }

  outbox::Delivered delivered;
  asio::steady_timer wake;
  bool finished = false;
  bool applied = false;
  std::exception_ptr error;
};

PgCompletion::PgCompletion(asio::io_context& ioc, PgPool& pool, const outbox::WorkerOutbox& outbox,
                           WorkerMetrics& metrics, std::chrono::milliseconds window, std::size_t max_batch)
    : ioc_(ioc),
      pool_(pool),
      outbox_(outbox),
      metrics_(metrics),
      window_(window),
      max_batch_(std::max<std::size_t>(max_batch, 1)) {}

asio::awaitable<bool> PgCompletion::complete(const outbox::ClaimedRow& row,
                                             const std::optional<std::string>& zedtoken) {
  // `row` lives in the delivery's frame, which waits here until its batch is written.
  auto waiting = std::make_shared<Waiting>(ioc_, row, zedtoken);
  queue_.push_back(waiting);
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(ioc_, write_batches(), asio::detached);
  }
  if (!waiting->finished) {
    boost::system::error_code ignored;
    co_await waiting->wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  if (waiting->error) std::rethrow_exception(waiting->error);
  co_return waiting->applied;
}

asio::awaitable<void> PgCompletion::write_batches() {
  // A short window first: every delivery answered meanwhile joins this batch
  // (at moderate rates answers come a few per millisecond, and each batch is
  // one commit); the ones answered while a batch is written join the next.
  asio::steady_timer window(ioc_, window_);
  boost::system::error_code ignored;
  co_await window.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  while (!queue_.empty()) {
    const std::size_t n = std::min(queue_.size(), max_batch_);
    Batch batch(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    metrics_.completion_batch(batch.size());
    co_await write(batch);
  }
  writing_ = false;
}

asio::awaitable<void> PgCompletion::write(const Batch& batch) {
  std::vector<outbox::Delivered> items;
  items.reserve(batch.size());
  for (const auto& w : batch) items.push_back(w->delivered);
  std::vector<Outcome> outcomes;
  try {
    const auto applied = co_await on_database<std::vector<bool>>(
        pool_, [&](pqxx::connection& c) { return outbox_.complete(c, std::span<const outbox::Delivered>(items)); });
    for (const bool a : applied) outcomes.push_back({a, nullptr});
  } catch (const std::exception&) {
    outcomes.assign(batch.size(), {false, std::current_exception()});
  }
  if (outcomes.front().error && batch.size() > 1) outcomes = co_await write_one_by_one(items);
  // The waiters' timers belong to this thread: they are woken here, not on the database's.
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->finish(outcomes[i].applied, outcomes[i].error);
}

asio::awaitable<std::vector<PgCompletion::Outcome>> PgCompletion::write_one_by_one(
    const std::vector<outbox::Delivered>& items) {
  // A row the batch statement could not take fails alone.
  try {
    co_return co_await on_database<std::vector<Outcome>>(pool_, [&](pqxx::connection& c) {
      std::vector<Outcome> out;
      out.reserve(items.size());
      for (const auto& item : items) {
        try {
          out.push_back({outbox_.complete(c, *item.row, item.zedtoken), nullptr});
        } catch (const std::exception&) {
          out.push_back({false, std::current_exception()});
        }
      }
      return out;
    });
  } catch (const std::exception&) {
    co_return std::vector<Outcome>(items.size(), Outcome{false, std::current_exception()});
  }
}

asio::awaitable<bool> PgCompletion::retry(const outbox::ClaimedRow& row, std::chrono::milliseconds delay,
                                          const outbox::Failure& failure) {
  co_return co_await on_database<bool>(pool_,
                                       [&](pqxx::connection& c) { return outbox_.retry(c, row, delay, failure); });
}

asio::awaitable<bool> PgCompletion::dead_letter(const outbox::ClaimedRow& row, const outbox::Failure& failure) {
  co_return co_await on_database<bool>(pool_,
                                       [&](pqxx::connection& c) { return outbox_.dead_letter(c, row, failure); });
}

}  // namespace fgac::worker
