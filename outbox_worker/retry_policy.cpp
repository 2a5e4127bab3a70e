#include "outbox_worker/retry_policy.hpp"

#include <algorithm>
#include <cmath>

namespace fgac::worker {

std::chrono::milliseconds retry_delay(long long attempt, const RetrySettings& settings, double unit_random) {
  const auto base = static_cast<double>(settings.base.count());
  const auto cap = static_cast<double>(settings.cap.count());
  // Clamp the exponent before pow(): the attempt count has no upper bound.
  constexpr long long kMaxExponent = 62;
  const long long exponent = std::clamp(attempt - 1, 0LL, kMaxExponent);
  const double exponential = std::min(cap, base * std::pow(2.0, static_cast<double>(exponent)));
  const double r = std::clamp(unit_random, 0.0, 1.0);
  const double jittered = exponential * (1.0 - kJitterFraction * r);
  return std::chrono::milliseconds(static_cast<long long>(std::max(1.0, jittered)));
}

}  // namespace fgac::worker
