#include "service/outbox_notifier.hpp"

#include "common/log.hpp"
#include "common/outbox_channel.hpp"

namespace fgac::api {
namespace {

// Spacing between two NOTIFYs: caps them at 1,000/s under any create rate and
// adds at most this much to a wake-up.
constexpr auto kMinNotifyInterval = std::chrono::milliseconds(1);
// After a failed NOTIFY (the database is away) before connecting again.
constexpr auto kReconnectPause = std::chrono::milliseconds(1000);

const std::string kNotifySql = std::string("NOTIFY ") + kOutboxChannel;

}  // namespace

OutboxNotifier::OutboxNotifier(PgSettings settings) : settings_(std::move(settings)) {
  settings_.application_name += "-notify";
}

OutboxNotifier::~OutboxNotifier() {
  stop();
}

void OutboxNotifier::start() {
  thread_ = std::thread([this] { run(); });
}

void OutboxNotifier::notify() {
  {
    std::lock_guard lock(mutex_);
    pending_ = true;
  }
  changed_.notify_one();
}

void OutboxNotifier::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool OutboxNotifier::pause_unless_stopping(std::chrono::milliseconds pause) {
  std::unique_lock lock(mutex_);
  return !changed_.wait_for(lock, pause, [this] { return stopping_; });
}

void OutboxNotifier::run() {
  std::unique_ptr<pqxx::connection> conn;
  bool failing = false;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return pending_ || stopping_; });
      if (!pending_) return;  // stopping, nothing left to send
      pending_ = false;
    }
    try {
      if (!conn || !conn->is_open()) {
        conn = pg_connect(settings_);
        if (settings_.statements == StatementMode::prepared) {
          pqxx::nontransaction setup(*conn);
          setup.exec0("SET synchronous_commit = off");  // a session setting: not through a pooler
        }
      }
      pqxx::nontransaction tx(*conn);
      tx.exec0(kNotifySql);
      if (failing) log::info("outbox notifier reconnected");
      failing = false;
    } catch (const std::exception& e) {
      conn.reset();
      // One line per outage, not per create; the workers' poll covers the gap.
      if (!failing)
        log::warn("outbox notifier cannot reach the database; workers poll meanwhile", {{"error", e.what()}});
      failing = true;
      if (!pause_unless_stopping(kReconnectPause)) return;
      continue;
    }
    if (!pause_unless_stopping(kMinNotifyInterval)) {
      // Stopping: flush a wake-up raised during the pause, once.
      std::unique_lock lock(mutex_);
      if (!pending_) return;
    }
  }
}

}  // namespace fgac::api
