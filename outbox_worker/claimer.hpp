// The claim loop: claims due rows in batches up to its free call slots plus
// a small queue of rows claimed ahead (and what the circuit breaker allows),
// hands each to a delivery, and sleeps until a wake-up (NOTIFY, room freed by
// answered calls), the breaker's next probe or the poll interval. A call slot
// is free again when the call's answer arrives, not when its outcome is
// recorded; the next queued row starts then, without a claim's round trip.
// The queue's wait is covered by the lease (a row whose lease is half gone is
// handed back instead), and when the breaker opens the queue is handed back
// at once rather than delivered into the outage. Runs on the worker's one I/O
// thread; knows nothing of SQL or HTTP: claim, delivery and release are
// handed in.
#pragma once

#include <deque>
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
  // Rows claimed beyond the free call slots, waiting in the local queue.
  long long claim_ahead = 0;
  // Answered rows whose outcome is not yet recorded, beyond which no call
  // starts (the database is behind); 0: as many as `concurrency`.
  long long max_unrecorded = 0;
};

// How many rows the worker claims ahead for a given concurrency and batch size.
long long default_claim_ahead(long long concurrency, long long batch_size);

class Claimer {
 public:
  using Claim = std::function<boost::asio::awaitable<std::vector<ClaimedRow>>(long long limit)>;
  using Deliver = std::function<boost::asio::awaitable<DeliveryReport>(ClaimedRow, SteadyClock::time_point lease_end,
                                                                       bool probe, Answered answered)>;
  // Hands claimed rows back undelivered; may throw (their leases then lapse).
  using Release = std::function<boost::asio::awaitable<void>(std::vector<ClaimedRow>)>;

  Claimer(boost::asio::io_context& ioc, ClaimerSettings settings, CircuitBreaker& breaker, Claim claim, Deliver deliver,
          Release release, Now now);

  void start();
  // Claim again now rather than at the next poll.
  void wake();
  // Claims nothing more; rows a claim still running returns are dropped (their
  // leases are released by the caller once `idle()`).
  void stop();

  // Rows handed to deliveries and not yet recorded.
  [[nodiscard]] long long in_flight() const { return unfinished_; }
  [[nodiscard]] long long queued() const { return static_cast<long long>(ready_.size()); }
  // No delivery unfinished, no claim and no hand-back running.
  [[nodiscard]] bool idle() const { return unfinished_ == 0 && !claiming_ && releasing_ == 0; }

 private:
  struct Ready {
    ClaimedRow row;
    SteadyClock::time_point lease_end;
    bool probe = false;
  };
  enum class Next { claim_again, pause_after_error, wait };
  boost::asio::awaitable<void> loop();
  boost::asio::awaitable<Next> claim_batch(long long allowed);
  // Room for more claimed rows: free call slots plus free queue places; none
  // while max_unrecorded outcomes wait to be recorded.
  [[nodiscard]] long long room() const;
  [[nodiscard]] bool may_start() const;
  [[nodiscard]] bool recording_behind() const;
  void start(Ready ready);
  void start_ready();
  void on_answer();
  void wake_if_room_grew(long long room_before);
  void hand_back(std::vector<ClaimedRow> rows);
  boost::asio::awaitable<void> deliver_one(Ready ready);
  boost::asio::awaitable<void> release_rows(std::vector<ClaimedRow> rows);
  [[nodiscard]] SteadyClock::duration idle_sleep() const;
  boost::asio::awaitable<void> sleep(SteadyClock::duration how_long);

  boost::asio::io_context& ioc_;
  ClaimerSettings settings_;
  CircuitBreaker& breaker_;
  Claim claim_;
  Deliver deliver_;
  Release release_;
  Now now_;
  boost::asio::steady_timer wake_timer_;
  bool wake_pending_ = false;
  bool stopping_ = false;
  bool claiming_ = false;
  long long calls_ = 0;       // waiting for their answer
  long long unfinished_ = 0;  // calls plus answered rows not yet recorded
  long long releasing_ = 0;   // hand-backs running
  std::deque<Ready> ready_;   // claimed ahead, waiting for a call slot
};

}  // namespace fgac::worker
