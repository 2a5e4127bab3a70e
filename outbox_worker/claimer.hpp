// The claim loop: claims due rows in batches up to its free call slots (and
// what the circuit breaker allows), hands each to a delivery, and sleeps
// until a wake-up (NOTIFY, a finished call), the breaker's next probe or the
// poll interval. Runs on the worker's one I/O thread; knows nothing of SQL or
// HTTP: the claim and the delivery are handed in.
#pragma once

#include <functional>
#include <vector>

#include "common/asio.hpp"
#include "outbox_worker/circuit_breaker.hpp"
#include "outbox_worker/delivery.hpp"

namespace fgac::worker {

struct ClaimerSettings {
  long long concurrency = 32;
  long long batch_size = 100;
  std::chrono::milliseconds lease{30000};
  std::chrono::milliseconds poll_interval{1000};
};

class Claimer {
 public:
  using Claim = std::function<boost::asio::awaitable<std::vector<ClaimedRow>>(long long limit)>;
  using Deliver =
      std::function<boost::asio::awaitable<DeliveryReport>(ClaimedRow, SteadyClock::time_point lease_end, bool probe)>;

  Claimer(boost::asio::io_context& ioc, ClaimerSettings settings, CircuitBreaker& breaker, Claim claim, Deliver deliver,
          Now now);

  void start();
  // Claim again now rather than at the next poll.
  void wake();
  // Claims nothing more; rows a claim still running returns are dropped (their
  // leases are released by the caller once `idle()`).
  void stop();

  [[nodiscard]] long long in_flight() const { return in_flight_; }
  // No call in flight and no claim running.
  [[nodiscard]] bool idle() const { return in_flight_ == 0 && !claiming_; }

 private:
  enum class Next { claim_again, pause_after_error, wait };
  boost::asio::awaitable<void> loop();
  boost::asio::awaitable<Next> claim_batch(long long allowed);
  boost::asio::awaitable<void> deliver_one(ClaimedRow row, SteadyClock::time_point lease_end, bool probe);
  [[nodiscard]] SteadyClock::duration idle_sleep() const;
  boost::asio::awaitable<void> sleep(SteadyClock::duration how_long);

  boost::asio::io_context& ioc_;
  ClaimerSettings settings_;
  CircuitBreaker& breaker_;
  Claim claim_;
  Deliver deliver_;
  Now now_;
  boost::asio::steady_timer wake_timer_;
  bool wake_pending_ = false;
  bool stopping_ = false;
  bool claiming_ = false;
  long long in_flight_ = 0;
};

}  // namespace fgac::worker
