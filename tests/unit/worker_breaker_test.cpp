#include <doctest/doctest.h>

#include "outbox_worker/circuit_breaker.hpp"
#include "outbox_worker/outcome.hpp"

using namespace fgac::worker;
using std::chrono::milliseconds;
using Clock = CircuitBreaker::Clock;

namespace {
// No jitter: the pause is exactly min(cap, base * 2^(n-1)).
constexpr double kNoJitter = 0.0;
const BreakerSettings kSettings{3, {milliseconds(100), milliseconds(400)}};

void fail_times(CircuitBreaker& b, int n, Clock::time_point now) {
  for (int i = 0; i < n; ++i) b.record(true, false, now, kNoJitter);
}
}  // namespace

TEST_CASE("breaker: closed, it allows every free slot and ignores isolated failures") {
  CircuitBreaker b(kSettings);
  const auto t0 = Clock::now();
  CHECK(b.claim_limit(32, t0) == 32);
  fail_times(b, 2, t0);
  b.record(false, false, t0, kNoJitter);  // a success resets the run
  fail_times(b, 2, t0);
  CHECK_FALSE(b.open());
  CHECK(b.claim_limit(32, t0) == 32);
  CHECK_FALSE(b.until_probe(t0).has_value());
}

TEST_CASE("breaker: trip_after unavailable answers in a row open it; nothing is claimed until the pause is over") {
  CircuitBreaker b(kSettings);
  const auto t0 = Clock::now();
  fail_times(b, 2, t0);
  CHECK(b.record(true, false, t0, kNoJitter));  // the third opens it
  CHECK(b.open());
  CHECK(b.claim_limit(32, t0) == 0);
  CHECK(b.claim_limit(32, t0 + milliseconds(99)) == 0);
  CHECK(b.until_probe(t0 + milliseconds(40)) == milliseconds(60));
  // Calls claimed before it opened keep failing: they do not lengthen the pause.
  fail_times(b, 20, t0 + milliseconds(50));
  CHECK(b.claim_limit(32, t0 + milliseconds(100)) == 1);
}

TEST_CASE("breaker: one probe at a time; its failure doubles the pause up to the cap") {
  CircuitBreaker b(kSettings);
  auto now = Clock::now();
  fail_times(b, 3, now);
  for (const auto pause : {milliseconds(200), milliseconds(400), milliseconds(400)}) {
    now += milliseconds(1000);
    REQUIRE(b.claim_limit(32, now) == 1);
    CHECK(b.claimed(1));
    CHECK(b.claim_limit(32, now) == 0);  // the probe is out
    CHECK_FALSE(b.until_probe(now).has_value());
    CHECK_FALSE(b.record(true, true, now, kNoJitter));  // still open
    CHECK(b.until_probe(now) == pause);
  }
}

TEST_CASE("breaker: an empty claim is no probe; the next claim may still probe") {
  CircuitBreaker b(kSettings);
  const auto t0 = Clock::now();
  fail_times(b, 3, t0);
  const auto later = t0 + milliseconds(100);
  REQUIRE(b.claim_limit(8, later) == 1);
  CHECK_FALSE(b.claimed(0));
  CHECK(b.claim_limit(8, later) == 1);
}

TEST_CASE("breaker: any answer that is not unavailable closes it, at full rate at once") {
  CircuitBreaker b(kSettings);
  const auto t0 = Clock::now();
  fail_times(b, 3, t0);
  REQUIRE(b.claim_limit(32, t0 + milliseconds(100)) == 1);
  REQUIRE(b.claimed(1));
  CHECK(b.record(false, true, t0 + milliseconds(110), kNoJitter));
  CHECK_FALSE(b.open());
  CHECK(b.claim_limit(32, t0 + milliseconds(110)) == 32);
  // Closed again, it needs a full new run of failures to reopen.
  fail_times(b, 2, t0 + milliseconds(120));
  CHECK_FALSE(b.open());
}

TEST_CASE("breaker: only the service being away counts, not a per-request or credential error") {
  for (auto status : {std::optional<unsigned>{}, std::optional<unsigned>{503}, std::optional<unsigned>{502},
                      std::optional<unsigned>{504}, std::optional<unsigned>{408}}) {
    CHECK(means_service_unavailable(classify(Op::register_, status)));
  }
  for (unsigned status : {200U, 400U, 401U, 403U, 409U, 429U, 500U}) {
    CHECK_FALSE(means_service_unavailable(classify(Op::register_, status)));
  }
}
