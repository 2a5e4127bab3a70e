#include "outbox_worker/circuit_breaker.hpp"

#include <algorithm>

namespace fgac::worker {

long long CircuitBreaker::claim_limit(long long free_slots, Clock::time_point now) const {
  if (!open_) return free_slots;
  if (probe_out_ || now < probe_at_) return 0;
  return std::min(free_slots, 1LL);
}

bool CircuitBreaker::claimed(long long rows) {
  if (!open_ || rows == 0) return false;
  probe_out_ = true;
  return true;
}

bool CircuitBreaker::record(bool unavailable, bool probe, Clock::time_point now, double unit_random) {
  if (!unavailable) {
    consecutive_unavailable_ = 0;
    if (!open_) return false;
    // The probe (or a call from before the breaker opened) got through.
    open_ = false;
    probe_out_ = false;
    pauses_ = 0;
    return true;
  }
  if (open_) {
    // Calls claimed before it opened still land here: only the probe's failure
    // lengthens the pause.
    if (!probe) return false;
    ++pauses_;
    probe_out_ = false;
    probe_at_ = now + retry_delay(pauses_, settings_.pause, unit_random);
    return false;
  }
  if (settings_.trip_after <= 0 || ++consecutive_unavailable_ < settings_.trip_after) return false;
  open_ = true;
  pauses_ = 1;
  probe_out_ = false;
  probe_at_ = now + retry_delay(pauses_, settings_.pause, unit_random);
  return true;
}

std::optional<CircuitBreaker::Clock::duration> CircuitBreaker::until_probe(Clock::time_point now) const {
  if (!open_ || probe_out_) return std::nullopt;
  return std::max(Clock::duration::zero(), probe_at_ - now);
}

}  // namespace fgac::worker
