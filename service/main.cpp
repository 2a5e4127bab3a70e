// task-api: parse the configuration, build the API, serve until SIGTERM,
// then stop accepting and let in-flight requests finish.
#include <csignal>
#include <iostream>

#include "common/asio.hpp"
#include "common/log.hpp"
#include "service/config.hpp"
#include "service/task_api.hpp"

namespace {
constexpr auto kShutdownGrace = std::chrono::seconds(10);
constexpr auto kShutdownPoll = std::chrono::milliseconds(50);
}  // namespace

int main() {
  namespace asio = boost::asio;
  fgac::api::ApiConfig config;
  try {
    config = fgac::api::load_api_config(fgac::ProcessEnv{});
  } catch (const std::exception& e) {
    std::cerr << "task-api: " << e.what() << "\n";
    return 2;
  }
  fgac::log::set_level(config.log_level);

  asio::io_context ioc(1);
  fgac::api::TaskApi api(ioc, config);
  try {
    api.start();
  } catch (const std::exception& e) {
    fgac::log::error("task-api failed to start", {{"error", e.what()}});
    return 1;
  }

  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  asio::steady_timer drain(ioc);
  auto deadline = std::chrono::steady_clock::now();
  std::function<void()> wait_for_drain = [&] {
    if (api.requests_in_flight() == 0 || std::chrono::steady_clock::now() >= deadline) {
      fgac::log::info("task-api stopped", {{"unfinished_requests", api.requests_in_flight()}});
      ioc.stop();
      return;
    }
    drain.expires_after(kShutdownPoll);
    drain.async_wait([&](const boost::system::error_code&) { wait_for_drain(); });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    fgac::log::info("task-api shutting down", {{"signal", signal}});
    api.stop_accepting();
    deadline = std::chrono::steady_clock::now() + kShutdownGrace;
    wait_for_drain();
  });
  ioc.run();
  return 0;
}
