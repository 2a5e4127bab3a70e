// The delivery state machine in process: a fake authorization port, a fake
// completion and an injected clock; no Postgres, no Node, no child process.
#include <doctest/doctest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <boost/asio/use_future.hpp>
#include <deque>
#include <sstream>
#include <stdexcept>

#include "outbox_worker/delivery.hpp"

using namespace fgac::worker;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

constexpr double kNoJitter = 0.0;
constexpr auto kRequestTimeout = 2000ms;
constexpr auto kMargin = 500ms;
constexpr auto kLease = 10000ms;

struct FakeClock {
  SteadyClock::time_point now = SteadyClock::time_point(1h);
};

// Answers each call with the next scripted result, taking `latency` of fake time.
class FakePort final : public AuthorizationPort {
 public:
  explicit FakePort(FakeClock& clock) : clock_(clock) {}
  void answer(CallResult result, std::chrono::milliseconds latency = 10ms) {
    script_.emplace_back(std::move(result), latency);
  }
  asio::awaitable<CallResult> deliver(const ClaimedRow& row, std::chrono::milliseconds timeout) override {
    calls.push_back({row.resource_id, timeout});
    REQUIRE_FALSE(script_.empty());
    auto [result, latency] = script_.front();
    script_.pop_front();
    clock_.now += latency;
    co_return result;
  }
  struct Call {
    std::string resource_id;
    std::chrono::milliseconds timeout;
  };
  std::vector<Call> calls;

 private:
  FakeClock& clock_;
  std::deque<std::pair<CallResult, std::chrono::milliseconds>> script_;
};

// Records what the state machine wrote; `applies` false plays a superseded generation.
class FakeCompletion final : public Completion {
 public:
  struct Write {
    std::string kind;  // complete | retry | dead_letter
    std::optional<std::string> zedtoken;
    std::chrono::milliseconds delay{0};
    std::string exception_class;
    std::optional<unsigned> status;
    std::string error;
  };
  asio::awaitable<bool> complete(const ClaimedRow&, const std::optional<std::string>& zedtoken) override {
    return write({.kind = "complete", .zedtoken = zedtoken});
  }
  asio::awaitable<bool> retry(const ClaimedRow&, std::chrono::milliseconds delay,
                              const fgac::outbox::Failure& f) override {
    return write({.kind = "retry",
                  .delay = delay,
                  .exception_class = std::string(f.exception_class),
                  .status = f.status,
                  .error = f.error});
  }
  asio::awaitable<bool> dead_letter(const ClaimedRow&, const fgac::outbox::Failure& f) override {
    return write({.kind = "dead_letter",
                  .exception_class = std::string(f.exception_class),
                  .status = f.status,
                  .error = f.error});
  }
  std::vector<Write> writes;
  bool applies = true;
  bool database_down = false;
  const bool* answered = nullptr;  // when set: was the call's answer reported before each write
  std::vector<bool> answered_first;

 private:
  asio::awaitable<bool> write(Write w) {
    if (answered != nullptr) answered_first.push_back(*answered);
    if (database_down) throw std::runtime_error("connection refused");
    writes.push_back(std::move(w));
    co_return applies;
  }
};

struct Rig {
  FakeClock clock;
  FakePort port{clock};
  FakeCompletion completion;
  CircuitBreaker breaker{BreakerSettings{3, {100ms, 400ms}}};
  prometheus::Registry registry;
  WorkerMetrics metrics{registry};
  Delivery delivery{{.request_timeout = kRequestTimeout, .retry = {200ms, 60000ms}, .lease_safety_margin = kMargin},
                    port,
                    completion,
                    breaker,
                    metrics,
                    [this] { return clock.now; },
                    [] { return kNoJitter; }};

  // Delivers a row claimed just now (its lease ends kLease from now).
  DeliveryReport deliver(ClaimedRow row, bool probe = false) {
    return deliver_with_lease(std::move(row), clock.now + kLease, probe);
  }
  DeliveryReport deliver_with_lease(ClaimedRow row, SteadyClock::time_point lease_end, bool probe = false,
                                    Answered answered = {}) {
    asio::io_context ioc;
    auto report =
        asio::co_spawn(ioc, delivery.run(std::move(row), lease_end, probe, std::move(answered)), asio::use_future);
    ioc.run();
    return report.get();
  }
  // A sample's value from the registry, e.g. R"(task_fgac_dual_write_success_total{op="register"})".
  double sample(const std::string& series) {
    std::istringstream text(prometheus::TextSerializer().Serialize(registry.Collect()));
    for (std::string line; std::getline(text, line);) {
      if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    return 0;
  }
};

ClaimedRow row_of(Op op, long long attempts = 1) {
  return {.resource_type = "task",
          .resource_id = "t-1",
          .parent_type = "agent",
          .parent_id = "a-1",
          .principal = R"({"principal_type":"user","user_id":"u"})",
          .op = op,
          .generation = 1,
          .attempts = attempts};
}

CallResult http(unsigned status, std::optional<std::string> zedtoken = std::nullopt) {
  return {.status = status, .zedtoken = std::move(zedtoken), .error = status == 200 ? "" : "HTTP error"};
}

}  // namespace

TEST_CASE("delivery: a register answered 200 completes the row with the zedtoken and counts a success") {
  Rig rig;
  rig.port.answer(http(200, "zed-1"));
  const auto report = rig.deliver(row_of(Op::register_));
  CHECK(report.verdict == Verdict::completed);
  REQUIRE(rig.completion.writes.size() == 1);
  CHECK(rig.completion.writes[0].kind == "complete");
  CHECK(rig.completion.writes[0].zedtoken == "zed-1");
  CHECK(rig.sample(R"(task_fgac_dual_write_attempts_total{op="register"})") == 1);
  CHECK(rig.sample(R"(task_fgac_dual_write_success_total{op="register"})") == 1);
}

TEST_CASE("delivery: a deregister answered 404 is a success (already gone)") {
  Rig rig;
  rig.port.answer(http(404));
  CHECK(rig.deliver(row_of(Op::deregister)).verdict == Verdict::completed);
  REQUIRE(rig.completion.writes.size() == 1);
  CHECK(rig.completion.writes[0].kind == "complete");
  CHECK(rig.sample(R"(task_fgac_dual_write_success_total{op="deregister"})") == 1);
}

TEST_CASE("delivery: every outcome class of DESIGN.md's table records its action and exception class") {
  struct Case {
    Op op;
    std::optional<unsigned> status;
    const char* kind;
    std::string_view exception_class;
  };
  const Case cases[] = {
      {Op::register_, std::nullopt, "retry", kUnavailable},  // network error, timeout
      {Op::register_, 503, "retry", kUnavailable},
      {Op::deregister, 502, "retry", kGateway},
      {Op::register_, 504, "retry", kGateway},
      {Op::register_, 401, "retry", kAuthentication},
      {Op::deregister, 403, "retry", kAuthorization},
      {Op::register_, 429, "retry", kService},
      {Op::register_, 500, "retry", kService},
      {Op::deregister, 501, "retry", kService},
      {Op::register_, 400, "dead_letter", kService},
      {Op::register_, 409, "dead_letter", kService},
      {Op::deregister, 422, "dead_letter", kService},
      {Op::register_, 404, "dead_letter", kService},  // 404 is a success on deregister only
  };
  for (const auto& c : cases) {
    CAPTURE(op_name(c.op));
    CAPTURE(c.status.value_or(0));
    Rig rig;
    rig.port.answer({.status = c.status, .error = "boom"});
    const auto report = rig.deliver(row_of(c.op));
    CHECK(report.verdict == (std::string_view(c.kind) == "retry" ? Verdict::retried : Verdict::dead_lettered));
    REQUIRE(rig.completion.writes.size() == 1);
    const auto& w = rig.completion.writes[0];
    CHECK(w.kind == c.kind);
    CHECK(w.exception_class == c.exception_class);
    CHECK(w.status == c.status);
    CHECK(w.error == "boom");
    const std::string labels =
        "{exception_class=\"" + std::string(c.exception_class) + "\",op=\"" + std::string(op_name(c.op)) + "\"}";
    const bool retried = std::string_view(c.kind) == "retry";
    CHECK(rig.sample("task_fgac_dual_write_retries_total" + labels) == (retried ? 1 : 0));
    CHECK(rig.sample("task_fgac_dual_write_failures_total" + labels) == (retried ? 0 : 1));
  }
}

TEST_CASE("delivery: a retry waits min(cap, base * 2^(attempt-1)) with the jitter drawn") {
  Rig rig;
  rig.port.answer(http(503));
  rig.deliver(row_of(Op::register_, 3));
  REQUIRE(rig.completion.writes.size() == 1);
  CHECK(rig.completion.writes[0].delay == 800ms);  // 200 ms * 2^2, no jitter
}

TEST_CASE("delivery: when the generation moved on during the call, every recording reports superseded") {
  for (unsigned status : {200U, 503U, 422U}) {
    CAPTURE(status);
    Rig rig;
    rig.completion.applies = false;
    rig.port.answer(http(status));
    CHECK(rig.deliver(row_of(Op::register_)).verdict == Verdict::superseded);
    CHECK(rig.sample(R"(task_fgac_dual_write_success_total{op="register"})") == 0);
  }
}

TEST_CASE("delivery: the call's timeout is what is left of the lease minus the margin, at most the request timeout") {
  Rig rig;
  rig.port.answer(http(200));
  rig.port.answer(http(200));
  rig.deliver(row_of(Op::register_));
  rig.deliver_with_lease(row_of(Op::register_), rig.clock.now + kMargin + 1200ms);
  REQUIRE(rig.port.calls.size() == 2);
  CHECK(rig.port.calls[0].timeout == kRequestTimeout);
  CHECK(rig.port.calls[1].timeout == 1200ms);
}

TEST_CASE("delivery: a call that ends inside the lease's margin is abandoned: nothing is recorded") {
  Rig rig;
  // The answer comes 1 ms after the last moment the row could safely be completed.
  const auto lease_end = rig.clock.now + 3000ms;
  rig.port.answer(http(200, "late"), 3000ms - kMargin + 1ms);
  CHECK(rig.deliver_with_lease(row_of(Op::register_), lease_end).verdict == Verdict::abandoned);
  CHECK(rig.completion.writes.empty());
  CHECK(rig.sample(R"(task_fgac_dual_write_success_total{op="register"})") == 0);
}

TEST_CASE("delivery: a database failure while recording leaves the row to its lease (unrecorded), never throws") {
  Rig rig;
  rig.completion.database_down = true;
  rig.port.answer(http(200));
  CHECK(rig.deliver(row_of(Op::register_)).verdict == Verdict::unrecorded);
}

TEST_CASE("delivery: consecutive unavailable answers open the breaker; the probe's success closes it") {
  Rig rig;
  for (int i = 0; i < 2; ++i) {
    rig.port.answer(http(503));
    CHECK_FALSE(rig.deliver(row_of(Op::register_)).breaker_moved);
  }
  rig.port.answer({.status = std::nullopt, .error = "timeout"});
  CHECK(rig.deliver(row_of(Op::register_)).breaker_moved);  // the third opens it
  CHECK(rig.breaker.open());
  CHECK(rig.sample("task_fgac_dual_write_breaker_open") == 1);
  CHECK(rig.breaker.claim_limit(32, rig.clock.now) == 0);  // paused

  // A call from before the trip failing again changes nothing.
  rig.port.answer(http(502));
  CHECK_FALSE(rig.deliver(row_of(Op::register_)).breaker_moved);

  // The pause is over: one probe may go, and its success closes the breaker.
  rig.clock.now += 100ms;
  REQUIRE(rig.breaker.claim_limit(32, rig.clock.now) == 1);
  REQUIRE(rig.breaker.claimed(1));
  rig.port.answer(http(200));
  CHECK(rig.deliver(row_of(Op::register_), true).breaker_moved);
  CHECK_FALSE(rig.breaker.open());
  CHECK(rig.sample("task_fgac_dual_write_breaker_open") == 0);
  CHECK(rig.breaker.claim_limit(32, rig.clock.now) == 32);
}

TEST_CASE("delivery: a failed probe keeps the breaker open and lengthens its pause") {
  Rig rig;
  for (int i = 0; i < 3; ++i) {
    rig.port.answer(http(503));
    rig.deliver(row_of(Op::register_));
  }
  REQUIRE(rig.breaker.open());
  rig.clock.now += 100ms;
  REQUIRE(rig.breaker.claimed(1));
  rig.port.answer(http(503));
  CHECK(rig.deliver(row_of(Op::register_), true).breaker_moved);  // a probe always re-arms the claimer
  CHECK(rig.breaker.open());
  CHECK(rig.breaker.until_probe(rig.clock.now) == 200ms);  // the pause doubled
}

TEST_CASE("delivery: 401 and 403 are retried and never trip the breaker (a credential fault is not an outage)") {
  Rig rig;
  for (int i = 0; i < 5; ++i) {
    rig.port.answer(http(i % 2 == 0 ? 401 : 403));
    CHECK(rig.deliver(row_of(Op::register_)).verdict == Verdict::retried);
  }
  CHECK_FALSE(rig.breaker.open());
}

TEST_CASE("delivery: the call's answer is reported once, after it fed the breaker and before the outcome is recorded") {
  struct Case {
    unsigned status;
    const char* recorded;
  };
  for (const Case c : {Case{200U, "complete"}, Case{503U, "retry"}, Case{422U, "dead_letter"}}) {
    const unsigned status = c.status;
    CAPTURE(status);
    Rig rig;
    // Two unavailable answers already: a 503 now is the third, which opens the breaker.
    for (int i = 0; i < 2; ++i) rig.breaker.record(true, false, rig.clock.now, kNoJitter);
    rig.port.answer({.status = status, .zedtoken = "z", .error = "e"});
    bool answered = false;
    int answers = 0;
    bool breaker_as_fed = false;
    rig.completion.answered = &answered;
    rig.deliver_with_lease(row_of(Op::register_), rig.clock.now + kLease, false, [&] {
      answered = true;
      ++answers;
      breaker_as_fed = rig.breaker.open() == (status == 503U);
    });
    CHECK(answers == 1);
    CHECK(breaker_as_fed);
    REQUIRE(rig.completion.writes.size() == 1);
    CHECK(rig.completion.writes.front().kind == c.recorded);
    CHECK(rig.completion.answered_first == std::vector<bool>{true});
  }
}
