#include "outbox_worker/claimer.hpp"

#include <algorithm>

#include "common/log.hpp"

namespace fgac::worker {

namespace asio = boost::asio;

namespace {
// After a database error the claim loop waits this long before trying again.
constexpr auto kClaimErrorPause = std::chrono::milliseconds(500);
}  // namespace

long long default_claim_ahead(long long concurrency, long long batch_size) {
  // Enough that a slot freed by an answer starts the next call at once while
  // the next claim runs; small enough that a queued row waits for a few calls,
  // not for a share of its lease.
  return std::max(1LL, std::min(batch_size, concurrency / 2));
}

Claimer::Claimer(asio::io_context& ioc, ClaimerSettings settings, CircuitBreaker& breaker, Claim claim, Deliver deliver,
                 Release release, Now now)
    : ioc_(ioc),
      settings_(settings),
      breaker_(breaker),
      claim_(std::move(claim)),
      deliver_(std::move(deliver)),
      release_(std::move(release)),
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
  // Queued rows are never started; the shutdown's release_all hands them back.
  ready_.clear();
  wake_timer_.cancel();
}

bool Claimer::recording_behind() const {
  const long long cap = settings_.max_unrecorded > 0 ? settings_.max_unrecorded : settings_.concurrency;
  return unfinished_ - calls_ >= cap;
}

long long Claimer::room() const {
  if (recording_behind()) return 0;
  return std::max(0LL, settings_.concurrency + settings_.claim_ahead - calls_ - static_cast<long long>(ready_.size()));
}

bool Claimer::may_start() const {
  return calls_ < settings_.concurrency && !recording_behind();
}

asio::awaitable<void> Claimer::loop() {
  while (!stopping_) {
    const long long allowed = breaker_.claim_limit(room(), now_());
    if (allowed > 0) {
      const Next next = co_await claim_batch(allowed);
      if (stopping_) break;
      if (next == Next::claim_again) continue;
      if (next == Next::pause_after_error) {
        co_await sleep(kClaimErrorPause);
        continue;
      }
    }
    if (wake_pending_ && breaker_.claim_limit(room(), now_()) > 0) continue;
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
  if (breaker_.open() && !probe && !rows.empty()) {
    // It opened while this claim ran: nothing of it goes into the outage.
    hand_back(std::move(rows));
    co_return Next::wait;
  }
  for (auto& row : rows) ready_.push_back({std::move(row), lease_end, probe});
  start_ready();
  if (failed) co_return Next::pause_after_error;
  // A full batch means more is probably due: go again at once.
  const bool full = static_cast<long long>(rows.size()) == want;
  if (full && room() > 0 && !breaker_.open()) co_return Next::claim_again;
  co_return Next::wait;
}

void Claimer::start(Ready ready) {
  ++calls_;
  ++unfinished_;
  asio::co_spawn(ioc_, deliver_one(std::move(ready)), asio::detached);
}

void Claimer::start_ready() {
  std::vector<ClaimedRow> stale;
  while (!ready_.empty() && may_start()) {
    Ready next = std::move(ready_.front());
    ready_.pop_front();
    // Waited for half its lease (the calls ahead of it were slow): the call
    // could outlive the lease, so it goes back rather than out.
    if (now_() >= next.lease_end - settings_.lease / 2) {
      stale.push_back(std::move(next.row));
      continue;
    }
    start(std::move(next));
  }
  if (!stale.empty()) hand_back(std::move(stale));
}

void Claimer::on_answer() {
  const long long before = room();
  --calls_;
  if (breaker_.open() && !ready_.empty()) {
    std::vector<ClaimedRow> rows;
    rows.reserve(ready_.size());
    for (auto& r : ready_) rows.push_back(std::move(r.row));
    ready_.clear();
    hand_back(std::move(rows));
  }
  start_ready();
  wake_if_room_grew(before);
}

void Claimer::wake_if_room_grew(long long room_before) {
  // Claim again once half the queue (or, claiming none ahead, one slot) is
  // free: claims stay batches rather than one row per answer.
  const long long threshold = std::max(1LL, settings_.claim_ahead / 2);
  if (room_before < threshold && room() >= threshold) wake();
}

asio::awaitable<void> Claimer::deliver_one(Ready ready) {
  // Once per delivery, also for one that ended without reporting its answer.
  // The flag lives in this frame, which outlasts the call: the callback
  // captures two pointers, small enough for std::function to hold without
  // allocating on every delivery.
  bool answered = false;
  auto answer = [this, &answered] {
    if (answered) return;
    answered = true;
    on_answer();
  };
  const DeliveryReport report = co_await deliver_(std::move(ready.row), ready.lease_end, ready.probe, answer);
  answer();
  const long long before = room();
  --unfinished_;
  start_ready();
  // Superseded: the desire changed meanwhile and the guard freed the row.
  // Claim again at once rather than on the next poll: the newer desire's
  // NOTIFY came while the row was still leased.
  if (report.breaker_moved || report.verdict == Verdict::superseded) {
    wake();
  } else {
    wake_if_room_grew(before);
  }
}

void Claimer::hand_back(std::vector<ClaimedRow> rows) {
  ++releasing_;
  asio::co_spawn(ioc_, release_rows(std::move(rows)), asio::detached);
}

asio::awaitable<void> Claimer::release_rows(std::vector<ClaimedRow> rows) {
  try {
    co_await release_(std::move(rows));
  } catch (const std::exception& e) {
    log::warn("could not hand claimed rows back; their leases lapse", {{"error", e.what()}});
  }
  --releasing_;
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
