// Keeps the worker from hammering an authz service that is down (pure: the
// caller passes the time and the randomness in).
//
// Without it an outage turns every due row, as fast as its backoff allows,
// into a claim, a failed call and a retry update: Postgres writes that compete
// with the API's creates, and per-row backoffs that climb towards their cap
// so that recovery then waits on them. After `trip_after` unavailable answers
// in a row (network error, timeout, 502, 503, 504: the service itself is
// away, not this request) the breaker opens: the worker claims nothing, and
// when a pause is over it claims one row as a probe. Any answer that is not
// "unavailable" closes it again, at full rate at once; an unavailable one
// reopens it with a doubled pause, up to the cap. Rows that are not claimed
// keep their attempt counts and their backoff.
#pragma once

#include <chrono>
#include <optional>

#include "outbox_worker/retry_policy.hpp"

namespace fgac::worker {

inline constexpr int kBreakerTripAfter = 10;
inline constexpr std::chrono::milliseconds kBreakerPauseBase{500};
// Bounds how long a recovered service waits for its first probe.
inline constexpr std::chrono::milliseconds kBreakerPauseCap{5000};

struct BreakerSettings {
  int trip_after = kBreakerTripAfter;  // 0: never opens
  RetrySettings pause{kBreakerPauseBase, kBreakerPauseCap};
};

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;

  explicit CircuitBreaker(BreakerSettings settings = {}) : settings_(settings) {}

  // How many rows the claim loop may claim now, given its free call slots:
  // all of them while closed; while open none, or one (the probe) once the
  // pause is over and no probe is out.
  [[nodiscard]] long long claim_limit(long long free_slots, Clock::time_point now) const;
  // After a claim that the limit allowed. True when it is the probe (the
  // breaker is open and a row was claimed): its result is recorded as such.
  bool claimed(long long rows);
  // Every authz call's result. Returns true when it opened or closed the breaker.
  bool record(bool unavailable, bool probe, Clock::time_point now, double unit_random);

  [[nodiscard]] bool open() const { return open_; }
  // While open and no probe is out: the time until the next probe may be claimed.
  [[nodiscard]] std::optional<Clock::duration> until_probe(Clock::time_point now) const;

 private:
  BreakerSettings settings_;
  int consecutive_unavailable_ = 0;
  bool open_ = false;
  long long pauses_ = 0;  // while open: how many times it opened or reopened
  bool probe_out_ = false;
  Clock::time_point probe_at_{};
};

}  // namespace fgac::worker
