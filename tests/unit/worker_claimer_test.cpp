// The claim loop in process: a scripted claim, a scripted delivery and an
// injected clock; no database. Each test ends the loop from its script, and
// io_context::run_for bounds a loop that failed to wake (the test then fails
// its checks, it does not hang).
#include <doctest/doctest.h>

#include <deque>
#include <string>

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
  bool stop_when_script_ends = true;
  std::vector<long long> limits;     // what each claim asked for
  std::vector<bool> probes;          // per delivered row: was it the breaker's probe
  std::vector<std::string> started;  // per delivered row, in start order: its resource id
  std::vector<std::vector<std::string>> handed_back;
  Verdict verdict = Verdict::completed;
  bool unavailable = false;     // every call's answer says the service is away
  bool hold_recording = false;  // answered calls wait for open_recording() before they finish
  asio::steady_timer recording_gate{ioc, SteadyClock::time_point::max()};
  long long recorded = 0;
  std::unique_ptr<Claimer> claimer;

  explicit ClaimerRig(long long concurrency, long long batch_size, long long claim_ahead = 0) {
    claimer = std::make_unique<Claimer>(
        ioc,
        ClaimerSettings{.concurrency = concurrency,
                        .batch_size = batch_size,
                        .lease = 10s,
                        .poll_interval = kNeverPolls,
                        .claim_ahead = claim_ahead},
        breaker, [this](long long limit) { return claim(limit); },
        [this](ClaimedRow row, SteadyClock::time_point, bool probe, Answered answered) {
          return deliver(std::move(row), probe, std::move(answered));
        },
        [this](std::vector<ClaimedRow> rows) { return release(std::move(rows)); }, [this] { return now; });
  }

  void run() {
    claimer->start();
    ioc.run_for(kDeadline);
  }
  // Starts the claimer on one batch and runs it until it waits; it keeps
  // running when the batch is done, for the test to look at it.
  void start_on(std::vector<ClaimedRow> batch) {
    stop_when_script_ends = false;
    script = {std::move(batch)};
    claimer->start();
    settle();
  }
  // Stops the claimer; true once nothing of it is left running.
  bool stop() {
    claimer->stop();
    settle();
    return claimer->idle();
  }
  // Runs every handler that is ready, without waiting for a timer.
  void settle() {
    ioc.restart();
    while (ioc.poll() > 0) {
    }
  }
  void open_recording() {
    hold_recording = false;
    recording_gate.cancel();
  }

 private:
  asio::awaitable<std::vector<ClaimedRow>> claim(long long limit) {
    limits.push_back(limit);
    if (script.empty()) {
      if (stop_when_script_ends) claimer->stop();
      co_return std::vector<ClaimedRow>{};
    }
    auto rows = std::move(script.front());
    script.pop_front();
    co_return rows;
  }
  asio::awaitable<DeliveryReport> deliver(ClaimedRow row, bool probe, Answered answered) {
    probes.push_back(probe);
    started.push_back(row.resource_id);
    // What Delivery feeds the breaker.
    const bool moved = breaker.record(unavailable, probe, now, 0.0) || probe;
    answered();
    if (hold_recording) {
      boost::system::error_code ignored;
      co_await recording_gate.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    ++recorded;
    co_return DeliveryReport{.verdict = verdict, .breaker_moved = moved};
  }
  asio::awaitable<void> release(std::vector<ClaimedRow> rows) {
    std::vector<std::string> ids;
    ids.reserve(rows.size());
    for (const auto& r : rows) ids.push_back(r.resource_id);
    handed_back.push_back(std::move(ids));
    co_return;
  }
};

// n rows with ids "<prefix>0".."<prefix>(n-1)".
std::vector<ClaimedRow> rows(int n, const std::string& prefix = "r") {
  std::vector<ClaimedRow> out(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out[static_cast<std::size_t>(i)].resource_id = prefix + std::to_string(i);
  return out;
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

TEST_CASE("claimer: claims ahead of its free slots into a queue, and each answer starts the next queued row") {
  ClaimerRig rig(2, 10, 3);
  rig.script = {rows(5)};
  rig.run();
  // Room for 2 calls and 3 queued rows: one claim of 5, no claim per answer.
  CHECK(rig.limits.front() == 5);
  CHECK(rig.started == std::vector<std::string>{"r0", "r1", "r2", "r3", "r4"});
  CHECK(rig.handed_back.empty());
  CHECK(rig.claimer->idle());
}

TEST_CASE("claimer: a call slot is free when the answer arrives, before the outcome is recorded") {
  ClaimerRig rig(2, 10, 3);
  rig.hold_recording = true;
  rig.start_on(rows(5));
  // Every answer freed its slot at once, so the queued rows went out while no
  // outcome was recorded yet, until as many outcomes waited as calls may run.
  CHECK(rig.recorded == 0);
  CHECK(rig.started == std::vector<std::string>{"r0", "r1", "r2"});
  CHECK(rig.claimer->queued() == 2);
  rig.open_recording();
  rig.settle();
  CHECK(rig.started == std::vector<std::string>{"r0", "r1", "r2", "r3", "r4"});
  CHECK(rig.stop());
}

TEST_CASE("claimer: when the breaker opens, the rows queued ahead are handed back, not delivered") {
  ClaimerRig rig(1, 10, 4);
  rig.unavailable = true;
  for (int i = 0; i < 2; ++i) rig.breaker.record(true, false, rig.now, 0.0);  // one more opens it
  rig.start_on(rows(5));
  CHECK(rig.started == std::vector<std::string>{"r0"});
  REQUIRE(rig.handed_back.size() == 1);
  CHECK(rig.handed_back.front() == std::vector<std::string>{"r1", "r2", "r3", "r4"});
  CHECK(rig.breaker.open());
  CHECK(rig.stop());
}

TEST_CASE("claimer: a queued row that waited half its lease is handed back instead of called") {
  ClaimerRig rig(1, 10, 2);
  rig.hold_recording = true;
  rig.start_on(rows(3));
  // One call at a time and its outcome not yet recorded: the others wait in the queue.
  REQUIRE(rig.started == std::vector<std::string>{"r0"});
  rig.now += 6s;  // the lease is 10 s
  rig.open_recording();
  rig.settle();
  CHECK(rig.started == std::vector<std::string>{"r0"});
  REQUIRE(rig.handed_back.size() == 1);
  CHECK(rig.handed_back.front() == std::vector<std::string>{"r1", "r2"});
  CHECK(rig.stop());
}
