// outbox-worker: parse the configuration, run the worker until SIGTERM or
// SIGINT, then drain within the grace period and exit 0.
#include <iostream>

#include "common/asio.hpp"
#include "outbox_worker/outbox_worker.hpp"

int main() {
  namespace asio = boost::asio;
  fgac::worker::WorkerConfig config;
  try {
    config = fgac::worker::load_worker_config(fgac::ProcessEnv{});
  } catch (const std::exception& e) {
    std::cerr << "outbox-worker: " << e.what() << "\n";
    return 2;
  }
  fgac::log::set_level(config.log_level);

  asio::io_context ioc(1);
  fgac::worker::OutboxWorker worker(ioc, config);
  try {
    worker.start();
  } catch (const std::exception& e) {
    fgac::log::error("outbox-worker failed to start", {{"error", e.what()}});
    return 1;
  }
  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    fgac::log::info("outbox-worker shutting down", {{"signal", signal}});
    worker.shutdown([&] { ioc.stop(); });
  });
  ioc.run();
  return 0;
}
