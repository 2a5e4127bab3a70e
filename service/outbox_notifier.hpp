// Wakes the outbox workers after the API's commits, from one connection of
// its own, instead of a NOTIFY inside every creating transaction.
//
// Postgres serializes the commits of notifying transactions under one
// cluster-wide lock held through their WAL flush; a NOTIFY in each create made
// creates commit one flush at a time. Here the API's pool sessions defer the
// trigger's NOTIFY (kDeferOutboxNotify) and call notify() once their commit has
// returned. notify() only raises a flag: the notifier's thread sends one NOTIFY
// for every burst of calls (synchronous_commit off: the NOTIFY carries no data
// worth a flush), so a thousand creates a second cost at most a thousand small
// transactions off their commit path, and usually far fewer.
//
// A wake-up lost here (database gone, process killed between commit and
// NOTIFY) delays delivery by at most the workers' poll interval.
#pragma once

#include <boost/noncopyable.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/pg_pool.hpp"

namespace fgac::api {

class OutboxNotifier : boost::noncopyable {
 public:
  explicit OutboxNotifier(PgSettings settings);
  ~OutboxNotifier();

  void start();
  // Thread-safe and non-blocking: a NOTIFY that starts after this call follows.
  void notify();
  // Sends what is still pending (best effort), then joins the thread.
  void stop();

 private:
  void run();
  // Waits up to `pause` or until stop(); returns false once stopping.
  bool pause_unless_stopping(std::chrono::milliseconds pause);

  PgSettings settings_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool pending_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fgac::api
