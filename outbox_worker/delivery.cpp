#include "outbox_worker/delivery.hpp"

#include "common/log.hpp"

namespace fgac::worker {

namespace asio = boost::asio;

namespace {

double now_epoch_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Verdict applied_or_superseded(bool applied, Verdict verdict) {
  return applied ? verdict : Verdict::superseded;
}

}  // namespace

Delivery::Delivery(DeliverySettings settings, AuthorizationPort& port, Completion& completion, CircuitBreaker& breaker,
                   WorkerMetrics& metrics, Now now, UnitRandom unit_random)
    : settings_(settings),
      port_(port),
      completion_(completion),
      breaker_(breaker),
      metrics_(metrics),
      now_(std::move(now)),
      unit_random_(std::move(unit_random)) {}

std::chrono::milliseconds Delivery::call_timeout(SteadyClock::time_point lease_end) const {
  // The call may not outlive the lease (minus a margin): then the row could be
  // claimed again by someone else while this call is still in flight.
  const auto budget =
      std::chrono::duration_cast<std::chrono::milliseconds>(lease_end - settings_.lease_safety_margin - now_());
  return std::min(settings_.request_timeout, std::max(budget, std::chrono::milliseconds(1)));
}

asio::awaitable<DeliveryReport> Delivery::run(ClaimedRow row, SteadyClock::time_point lease_end, bool probe,
                                              Answered answered) {
  metrics_.attempt(row.op);
  const auto started = now_();
  const CallResult result = co_await port_.deliver(row, call_timeout(lease_end));
  metrics_.request_duration(row.op, std::chrono::duration<double>(now_() - started).count());
  const Outcome outcome = classify(row.op, result.status);
  DeliveryReport report{.breaker_moved = feed_breaker(outcome, probe)};
  if (answered) answered();
  if (now_() > lease_end - settings_.lease_safety_margin) {
    log::warn("abandoned a call that outlived its lease budget",
              {{"resource_id", row.resource_id}, {"op", op_name(row.op)}});
    report.verdict = Verdict::abandoned;
    co_return report;
  }
  try {
    report.verdict = co_await record(row, outcome, result);
  } catch (const std::exception& e) {
    // The row keeps its lease and is delivered again once it lapses (at-least-once).
    log::warn("could not record a delivery outcome", {{"resource_id", row.resource_id}, {"error", e.what()}});
    report.verdict = Verdict::unrecorded;
  }
  co_return report;
}

bool Delivery::feed_breaker(const Outcome& outcome, bool probe) {
  const bool changed = breaker_.record(means_service_unavailable(outcome), probe, now_(), unit_random_());
  if (changed) {
    metrics_.breaker_open(breaker_.open());
    if (breaker_.open()) {
      log::warn("authz service unavailable: circuit breaker open, claiming one probe row at a time");
    } else {
      log::info("authz service answering again: circuit breaker closed");
    }
  }
  // After a probe the claimer re-arms its timer for the next one, or claims at full rate.
  return probe || changed;
}

asio::awaitable<Verdict> Delivery::record(const ClaimedRow& row, const Outcome& outcome, const CallResult& result) {
  const outbox::Failure failure{outcome.exception_class, result.status, result.error};
  switch (outcome.action) {
    case Action::success: {
      const bool applied = co_await completion_.complete(row, result.zedtoken);
      if (applied) metrics_.success(row.op, now_epoch_seconds() - row.enqueued_at);
      co_return applied_or_superseded(applied, Verdict::completed);
    }
    case Action::retry:
      co_return co_await record_retry(row, failure);
    case Action::dead_letter:
      co_return co_await record_dead_letter(row, failure);
  }
  co_return Verdict::unrecorded;
}

asio::awaitable<Verdict> Delivery::record_retry(const ClaimedRow& row, const outbox::Failure& failure) {
  const auto delay = retry_delay(row.attempts, settings_.retry, unit_random_());
  metrics_.retry(row.op, failure.exception_class);
  log::info("authz call failed; will retry", {{"resource_id", row.resource_id},
                                              {"op", op_name(row.op)},
                                              {"exception_class", failure.exception_class},
                                              {"attempt", row.attempts},
                                              {"retry_in_ms", delay.count()},
                                              {"error", failure.error}});
  const bool applied = co_await completion_.retry(row, delay, failure);
  co_return applied_or_superseded(applied, Verdict::retried);
}

asio::awaitable<Verdict> Delivery::record_dead_letter(const ClaimedRow& row, const outbox::Failure& failure) {
  metrics_.failure(row.op, failure.exception_class);
  log::error("authz call failed permanently; dead-lettered", {{"resource_id", row.resource_id},
                                                              {"op", op_name(row.op)},
                                                              {"exception_class", failure.exception_class},
                                                              {"error", failure.error}});
  const bool applied = co_await completion_.dead_letter(row, failure);
  co_return applied_or_superseded(applied, Verdict::dead_lettered);
}

}  // namespace fgac::worker
