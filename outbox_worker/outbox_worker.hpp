// The outbox worker: claims due rows in batches up to its free call slots,
// delivers each with one authz call outside any transaction, and finishes it
// with a statement guarded by the claimed generation. Wakes on NOTIFY, with a
// poll as the safety net. One io_context thread; database work on the pool.
#pragma once

#include <prometheus/registry.h>
#include <memory>
#include <random>

#include "common/asio.hpp"
#include "common/http_server.hpp"
#include "common/pg_pool.hpp"
#include "outbox_worker/authz_client.hpp"
#include "outbox_worker/circuit_breaker.hpp"
#include "outbox_worker/notification_listener.hpp"
#include "outbox_worker/outbox_repository.hpp"
#include "outbox_worker/worker_config.hpp"
#include "outbox_worker/worker_metrics.hpp"

namespace fgac::worker {

class OutboxWorker {
 public:
  OutboxWorker(boost::asio::io_context& ioc, WorkerConfig config);
  ~OutboxWorker();

  void start();
  // Stops claiming, lets in-flight calls finish within the grace period,
  // releases the leases of what did not, then calls `done` on the I/O thread.
  void shutdown(std::function<void()> done);

  [[nodiscard]] std::uint16_t monitor_port() const { return monitor_->port(); }
  [[nodiscard]] long long in_flight() const { return in_flight_; }

 private:
  boost::asio::awaitable<void> claim_loop();
  boost::asio::awaitable<void> deliver(ClaimedRow row, std::chrono::steady_clock::time_point lease_end, bool probe);
  // Feeds a call's result to the circuit breaker; logs and exports its changes.
  void record_for_breaker(bool unavailable, bool probe);
  boost::asio::awaitable<void> gauge_loop();
  boost::asio::awaitable<void> drain_and_stop(std::function<void()> done);
  void wake();

  template <class R, class Fn>
  boost::asio::awaitable<R> db(Fn fn) {
    co_return co_await pool_->async_run<R>(std::move(fn), boost::asio::use_awaitable);
  }

  boost::asio::io_context& ioc_;
  WorkerConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  WorkerMetrics metrics_;
  std::unique_ptr<PgPool> pool_;
  OutboxRepository repository_;
  AuthzClient authz_;
  std::unique_ptr<NotificationListener> listener_;
  std::shared_ptr<HttpServer> monitor_;
  boost::asio::steady_timer wake_timer_;
  boost::asio::steady_timer gauge_timer_;
  CircuitBreaker breaker_;
  bool wake_pending_ = false;
  bool stopping_ = false;
  bool claiming_ = false;
  long long in_flight_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace fgac::worker
