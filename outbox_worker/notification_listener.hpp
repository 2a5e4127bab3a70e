// LISTEN authz_outbox on a dedicated connection and thread (libpqxx's
// notification_receiver, which re-listens after a reconnect). Each
// notification, and each (re)connect, calls `wake` — which must be cheap and
// thread-safe (the worker posts it to its I/O loop).
#pragma once

#include <atomic>
#include <boost/noncopyable.hpp>
#include <functional>
#include <thread>

#include "common/outbox_channel.hpp"
#include "common/pg_pool.hpp"

namespace fgac::worker {

class NotificationListener : boost::noncopyable {
 public:
  NotificationListener(PgSettings settings, std::function<void()> wake);
  ~NotificationListener();

  void start();
  void stop();
  [[nodiscard]] bool connected() const { return connected_.load(); }

 private:
  void run();
  PgSettings settings_;
  std::function<void()> wake_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace fgac::worker
