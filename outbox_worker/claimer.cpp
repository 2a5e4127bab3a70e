#include "outbox_worker/claimer.hpp"

#include "common/log.hpp"

namespace fgac::worker {

namespace asio = boost::asio;

namespace {
// After a database error the claim loop waits this long before trying again.
constexpr auto kClaimErrorPause = std::chrono::milliseconds(500);
}  // namespace

Claimer::Claimer(asio::io_context& ioc, ClaimerSettings settings, CircuitBreaker& breaker, Claim claim, Deliver deliver,
                 Now now)
    : ioc_(ioc),
      settings_(settings),
      breaker_(breaker),
      claim_(std::move(claim)),
      deliver_(std::move(deliver)),
      now_(std::move(now)),
      wake_timer_(ioc) {}

void Claimer::start() {
  asio::co_spawn(ioc_, loop(), asio::detached);
}

void Claimer::wake() {
  wake_pending_ = true;
  wake_timer_.cancel();
}

void Claimer::stop() {
  stopping_ = true;
  wake_timer_.cancel();
}

asio::awaitable<void> Claimer::loop() {
  while (!stopping_) {
    const long long allowed = breaker_.claim_limit(settings_.concurrency - in_flight_, now_());
    if (allowed > 0) {
      const Next next = co_await claim_batch(allowed);
      if (stopping_) break;
      if (next == Next::claim_again) continue;
      if (next == Next::pause_after_error) {
        co_await sleep(kClaimErrorPause);
        continue;
      }
    }
    if (wake_pending_ && breaker_.claim_limit(settings_.concurrency - in_flight_, now_()) > 0) continue;
    co_await sleep(idle_sleep());
  }
}

asio::awaitable<Claimer::Next> Claimer::claim_batch(long long allowed) {
  const long long want = std::min(allowed, settings_.batch_size);
  // Only a claim that starts while the breaker is open is its probe; one
  // that it opened under is a batch from before the trip.
  const bool probing = breaker_.open();
  wake_pending_ = false;
  const auto claimed_at = now_();
  std::vector<ClaimedRow> rows;
  bool failed = false;
  claiming_ = true;
  try {
    rows = co_await claim_(want);
  } catch (const std::exception& e) {
    log::warn("claim failed", {{"error", e.what()}});
    failed = true;
  }
  claiming_ = false;
  // Claimed during shutdown: the caller hands the rows straight back.
  if (stopping_) co_return Next::wait;
  const bool probe = probing && breaker_.claimed(static_cast<long long>(rows.size()));
  // The lease started server-side no earlier than claimed_at.
  const auto lease_end = claimed_at + settings_.lease;
  for (auto& row : rows) {
    ++in_flight_;
    asio::co_spawn(ioc_, deliver_one(std::move(row), lease_end, probe), asio::detached);
  }
  if (failed) co_return Next::pause_after_error;
  // A full batch means more is probably due: go again at once.
  const bool full = static_cast<long long>(rows.size()) == want;
  if (full && in_flight_ < settings_.concurrency && !breaker_.open()) co_return Next::claim_again;
  co_return Next::wait;
}

asio::awaitable<void> Claimer::deliver_one(ClaimedRow row, SteadyClock::time_point lease_end, bool probe) {
  const DeliveryReport report = co_await deliver_(std::move(row), lease_end, probe);
  const bool was_full = in_flight_ >= settings_.concurrency;
  --in_flight_;
  // Superseded: the desire changed meanwhile and the guard freed the row.
  // Claim again at once rather than on the next poll: the newer desire's
  // NOTIFY came while the row was still leased.
  if (was_full || report.breaker_moved || report.verdict == Verdict::superseded) wake();
}

SteadyClock::duration Claimer::idle_sleep() const {
  // While the breaker is open, wake-ups cannot shorten its pause: the loop
  // sleeps until the probe may go (or, with nothing due, until the next
  // poll), and the probe's result wakes it.
  auto sleep_for = std::chrono::duration_cast<SteadyClock::duration>(settings_.poll_interval);
  if (auto until_probe = breaker_.until_probe(now_()); until_probe && *until_probe > SteadyClock::duration::zero()) {
    sleep_for = std::min(sleep_for, *until_probe);
  }
  return sleep_for;
}

asio::awaitable<void> Claimer::sleep(SteadyClock::duration how_long) {
  wake_timer_.expires_after(how_long);
  boost::system::error_code ec;
  co_await wake_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace fgac::worker
