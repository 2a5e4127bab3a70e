// The delivery state machine of one claimed row: one authz call through the
// port, within what is left of the lease, then
//
//   outcome of the call (outcome.hpp)      -> what is recorded on the row
//   success (2xx; 404 on deregister)       -> complete (guarded by generation)
//   retryable class                        -> retry after retry_delay()
//   permanent class (400, 409, 422, ...)   -> dead letter
//   any of these, generation moved on      -> superseded (the row was released)
//   call ended inside the lease's margin   -> abandoned: nothing recorded, the
//                                             row is claimed again after its
//                                             lease lapses
//   the recording failed (database)        -> unrecorded: likewise
//
// and every call's answer feeds the circuit breaker. Time and randomness are
// injected so that the unit tests drive it with a fake port and a fake clock.
#pragma once

#include <chrono>
#include <functional>

#include "common/asio.hpp"
#include "outbox_worker/authorization_port.hpp"
#include "outbox_worker/circuit_breaker.hpp"
#include "outbox_worker/completion.hpp"
#include "outbox_worker/outcome.hpp"
#include "outbox_worker/retry_policy.hpp"
#include "outbox_worker/worker_config.hpp"
#include "outbox_worker/worker_metrics.hpp"

namespace fgac::worker {

using SteadyClock = std::chrono::steady_clock;
using Now = std::function<SteadyClock::time_point()>;
using UnitRandom = std::function<double()>;  // uniform in [0, 1)
// Called once the call's answer (or its failure) is in and has fed the
// breaker, before the outcome is recorded: the call slot is free then.
using Answered = std::function<void()>;

struct DeliverySettings {
  std::chrono::milliseconds request_timeout{10000};
  RetrySettings retry;
  std::chrono::milliseconds lease_safety_margin = kLeaseSafetyMargin;
};

enum class Verdict { completed, retried, dead_lettered, superseded, abandoned, unrecorded };

struct DeliveryReport {
  Verdict verdict = Verdict::unrecorded;
  // The breaker opened or closed, or this was its probe: the claimer must
  // look at its limit again.
  bool breaker_moved = false;
};

class Delivery {
 public:
  Delivery(DeliverySettings settings, AuthorizationPort& port, Completion& completion, CircuitBreaker& breaker,
           WorkerMetrics& metrics, Now now, UnitRandom unit_random);

  // `lease_end` is when the claim's lease lapses (as seen from here); `probe`
  // says the breaker let this row through as its probe.
  boost::asio::awaitable<DeliveryReport> run(ClaimedRow row, SteadyClock::time_point lease_end, bool probe,
                                             Answered answered = {});

 private:
  [[nodiscard]] std::chrono::milliseconds call_timeout(SteadyClock::time_point lease_end) const;
  bool feed_breaker(const Outcome& outcome, bool probe);
  boost::asio::awaitable<Verdict> record(const ClaimedRow& row, const Outcome& outcome, const CallResult& result);
  boost::asio::awaitable<Verdict> record_retry(const ClaimedRow& row, const outbox::Failure& failure);
  boost::asio::awaitable<Verdict> record_dead_letter(const ClaimedRow& row, const outbox::Failure& failure);

  DeliverySettings settings_;
  AuthorizationPort& port_;
  Completion& completion_;
  CircuitBreaker& breaker_;
  WorkerMetrics& metrics_;
  Now now_;
  UnitRandom unit_random_;
};

}  // namespace fgac::worker
