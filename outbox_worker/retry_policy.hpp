// Retry delays: min(cap, base * 2^attempt) with jitter (pure).
#pragma once

#include <chrono>

namespace fgac::worker {

inline constexpr std::chrono::milliseconds kBackoffBase{200};
inline constexpr std::chrono::milliseconds kBackoffCap{60000};
// The delay is drawn uniformly from [1 - kJitterFraction, 1] of the exponential
// value, so that rows that failed together do not retry together.
inline constexpr double kJitterFraction = 0.5;

struct RetrySettings {
  std::chrono::milliseconds base = kBackoffBase;
  std::chrono::milliseconds cap = kBackoffCap;
};

// `attempt` counts from 1 (the attempt that just failed); `unit_random` is in [0, 1).
std::chrono::milliseconds retry_delay(long long attempt, const RetrySettings& settings, double unit_random);

}  // namespace fgac::worker
