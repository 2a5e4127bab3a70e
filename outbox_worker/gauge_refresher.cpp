#include "outbox_worker/gauge_refresher.hpp"

#include "common/log.hpp"

namespace fgac::worker {

namespace asio = boost::asio;

void GaugeRefresher::start() {
  asio::co_spawn(ioc_, loop(), asio::detached);
}

void GaugeRefresher::stop() {
  stopping_ = true;
  timer_.cancel();
}

asio::awaitable<void> GaugeRefresher::loop() {
  while (!stopping_) {
    try {
      metrics_.gauges(co_await read_());
    } catch (const std::exception& e) {
      // Stale gauges mislead the alerts: say so where operators look.
      log::warn("gauge refresh failed; the outbox gauges keep their last values", {{"error", e.what()}});
    }
    timer_.expires_after(period_);
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace fgac::worker
