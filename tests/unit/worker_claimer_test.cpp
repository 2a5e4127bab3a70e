// The claim loop in process: a scripted claim, a scripted delivery and an
// injected clock; no database. Each test ends the loop from its script, and
// io_context::run_for bounds a loop that failed to wake (the test then fails
// its checks, it does not hang).
#include <doctest/doctest.h>

#include <deque>

#include "outbox_worker/claimer.hpp"

using namespace fgac::worker;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

constexpr auto kNeverPolls = 1h;  // only wake-ups make the loop claim again
constexpr auto kDeadline = 5s;

struct ClaimerRig {
  asio::io_context ioc;
  SteadyClock::time_point now = SteadyClock::time_point(1h);
  CircuitBreaker breaker{BreakerSettings{3, {100ms, 400ms}}};
  std::deque<std::vector<ClaimedRow>> script;  // one batch per claim; the loop stops when it runs out
  std::vector<long long> limits;               // what each claim asked for
  std::vector<bool> probes;                    // per delivered row: was it the breaker's probe
  Verdict verdict = Verdict::completed;
  std::unique_ptr<Claimer> claimer;

  explicit ClaimerRig(long long concurrency, long long batch_size) {
    claimer = std::make_unique<Claimer>(
        ioc,
        ClaimerSettings{
            .concurrency = concurrency, .batch_size = batch_size, .lease = 10s, .poll_interval = kNeverPolls},
        breaker, [this](long long limit) { return claim(limit); },
        [this](ClaimedRow row, SteadyClock::time_point, bool probe) { return deliver(std::move(row), probe); },
        [this] { return now; });
  }

  void run() {
    claimer->start();
    ioc.run_for(kDeadline);
  }

 private:
  asio::awaitable<std::vector<ClaimedRow>> claim(long long limit) {
    limits.push_back(limit);
    if (script.empty()) {
      claimer->stop();
      co_return std::vector<ClaimedRow>{};
    }
    auto rows = std::move(script.front());
    script.pop_front();
    co_return rows;
  }
  asio::awaitable<DeliveryReport> deliver(ClaimedRow, bool probe) {
    probes.push_back(probe);
    // What Delivery feeds the breaker: an answer that is not "unavailable".
    const bool moved = breaker.record(false, probe, now, 0.0) || probe;
    co_return DeliveryReport{.verdict = verdict, .breaker_moved = moved};
  }
};

std::vector<ClaimedRow> rows(int n) {
  return std::vector<ClaimedRow>(static_cast<std::size_t>(n));
}

}  // namespace

TEST_CASE("claimer: claims at most a batch and at most its free call slots; a call freeing a full worker wakes it") {
  ClaimerRig rig(3, 2);
  rig.script = {rows(2), rows(1)};
  rig.run();
  // 2 (a full batch: again at once), 1 (the last free slot), then, woken by
  // the calls that freed the full worker, a batch again.
  CHECK(rig.limits == std::vector<long long>{2, 1, 2});
  CHECK(rig.claimer->idle());
}

TEST_CASE("claimer: a superseded delivery wakes the claimer at once, not at the next poll") {
  ClaimerRig rig(32, 10);
  rig.verdict = Verdict::superseded;
  rig.script = {rows(1)};
  rig.run();
  CHECK(rig.limits == std::vector<long long>{10, 10});
}

TEST_CASE("claimer: while the breaker is open it claims one probe row; the probe's success restores full claims") {
  ClaimerRig rig(32, 10);
  for (int i = 0; i < 3; ++i) rig.breaker.record(true, false, rig.now, 0.0);
  REQUIRE(rig.breaker.open());
  rig.now += 100ms;  // the pause is over
  rig.script = {rows(1)};
  rig.run();
  CHECK(rig.limits == std::vector<long long>{1, 10});
  CHECK(rig.probes == std::vector<bool>{true});
  CHECK_FALSE(rig.breaker.open());
}
