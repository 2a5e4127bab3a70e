// Keeps the outbox gauges (pending, dead, oldest pending age) fresh: one
// read every period, on the worker's I/O thread.
#pragma once

#include <functional>

#include "common/asio.hpp"
#include "outbox/outbox.hpp"
#include "outbox_worker/worker_metrics.hpp"

namespace fgac::worker {

class GaugeRefresher {
 public:
  using Read = std::function<boost::asio::awaitable<outbox::Gauges>()>;

  GaugeRefresher(boost::asio::io_context& ioc, std::chrono::milliseconds period, Read read, WorkerMetrics& metrics)
      : ioc_(ioc), period_(period), read_(std::move(read)), metrics_(metrics), timer_(ioc) {}

  void start();
  void stop();

 private:
  boost::asio::awaitable<void> loop();

  boost::asio::io_context& ioc_;
  std::chrono::milliseconds period_;
  Read read_;
  WorkerMetrics& metrics_;
  boost::asio::steady_timer timer_;
  bool stopping_ = false;
};

}  // namespace fgac::worker
