// The outbox worker, wired: a claimer hands due rows to the delivery state
// machine, which calls the authorization port outside any transaction and
// records the outcome through the completion, guarded by the claimed
// generation; a gauge refresher keeps the outbox gauges fresh. Wakes on
// NOTIFY, with a poll as the safety net. One io_context thread; database work
// on the pool.
#pragma once

#include <prometheus/registry.h>
#include <memory>
#include <random>

#include "common/asio.hpp"
#include "common/http_server.hpp"
#include "common/monitor.hpp"
#include "common/pg_pool.hpp"
#include "outbox/outbox.hpp"
#include "outbox_worker/authz_client.hpp"
#include "outbox_worker/circuit_breaker.hpp"
#include "outbox_worker/claimer.hpp"
#include "outbox_worker/completion.hpp"
#include "outbox_worker/delivery.hpp"
#include "outbox_worker/gauge_refresher.hpp"
#include "outbox_worker/notification_listener.hpp"
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
  [[nodiscard]] long long in_flight() const { return claimer_.in_flight(); }

 private:
  boost::asio::awaitable<Readiness> readiness();
  boost::asio::awaitable<void> release_undelivered(std::vector<ClaimedRow> rows);
  boost::asio::awaitable<void> drain_and_stop(std::function<void()> done);

  boost::asio::io_context& ioc_;
  WorkerConfig config_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  WorkerMetrics metrics_;
  std::unique_ptr<PgPool> pool_;
  outbox::WorkerOutbox outbox_;
  HttpAuthzClient authz_;
  PgCompletion completion_;
  CircuitBreaker breaker_;
  std::mt19937_64 rng_;
  Delivery delivery_;
  Claimer claimer_;
  GaugeRefresher gauges_;
  std::unique_ptr<NotificationListener> listener_;
  std::shared_ptr<HttpServer> monitor_;
  bool stopping_ = false;
};

}  // namespace fgac::worker
