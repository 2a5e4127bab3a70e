#include "outbox_worker/notification_listener.hpp"

#include <algorithm>

#include "common/log.hpp"

namespace fgac::worker {
namespace {

constexpr auto kReconnectMin = std::chrono::milliseconds(200);
constexpr auto kReconnectMax = std::chrono::milliseconds(5000);

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& conn, const std::function<void()>& wake)
      : pqxx::notification_receiver(conn, kOutboxChannel), wake_(wake) {}
  void operator()(const std::string& /*payload*/, int /*backend_pid*/) override { wake_(); }

 private:
  const std::function<void()>& wake_;
};

}  // namespace

NotificationListener::NotificationListener(PgSettings settings, std::function<void()> wake)
    : settings_(std::move(settings)), wake_(std::move(wake)) {
  settings_.application_name = "outbox-worker-listen";
}

NotificationListener::~NotificationListener() {
  stop();
}

void NotificationListener::start() {
  thread_ = std::thread([this] { run(); });
}

void NotificationListener::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void NotificationListener::run() {
  auto backoff = kReconnectMin;
  while (!stopping_) {
    try {
      auto conn = pg_connect(settings_);
      Receiver receiver(*conn, wake_);
      conn->get_notifs();  // issues the LISTEN
      connected_ = true;
      backoff = kReconnectMin;
      log::info("listening for outbox notifications", {{"channel", kOutboxChannel}});
      wake_();  // anything committed while we were not listening
      while (!stopping_) {
        conn->await_notification(1, 0);  // wakes at least every second to check stopping_
        if (!conn->is_open()) throw pqxx::broken_connection("listen connection closed");
      }
    } catch (const std::exception& e) {
      connected_ = false;
      if (stopping_) break;
      log::warn("notification listener lost its connection; polling meanwhile", {{"error", e.what()}});
      for (auto waited = std::chrono::milliseconds(0); waited < backoff && !stopping_;
           waited += std::chrono::milliseconds(100)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kReconnectMax));
    }
  }
  connected_ = false;
}

}  // namespace fgac::worker
