// What both daemons' main() do, once: parse the configuration, build the
// service on one I/O thread, start it, and on SIGTERM or SIGINT ask it to
// shut down gracefully; the process exits when it says it is done.
// Exit codes: 2 a bad configuration, 1 a failed start, 0 a clean stop.
#pragma once

#include <exception>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "common/asio.hpp"
#include "common/env.hpp"
#include "common/log.hpp"

namespace fgac {

// Service(io_context&, Config) with start() (throws when it cannot) and
// shutdown(std::function<void()> done); Config has a log_level.
template <class Service, class LoadConfig>
int serve(std::string_view name, LoadConfig load) {
  std::optional<decltype(load(ProcessEnv{}))> config;
  try {
    config.emplace(load(ProcessEnv{}));
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 2;
  }
  log::set_level(config->log_level);

  boost::asio::io_context ioc(1);
  Service service(ioc, *config);
  try {
    service.start();
  } catch (const std::exception& e) {
    log::error(std::string(name) + " failed to start", {{"error", e.what()}});
    return 1;
  }
  boost::asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log::info(std::string(name) + " shutting down", {{"signal", signal}});
    service.shutdown([&] { ioc.stop(); });
  });
  ioc.run();
  return 0;
}

}  // namespace fgac
