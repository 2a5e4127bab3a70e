// The monitor port: /healthz (process alive), /readyz (dependencies ready) and
// /metrics (Prometheus text exposition of the process's registry).
#pragma once

#include <prometheus/registry.h>
#include <functional>
#include <memory>
#include "common/asio.hpp"

#include "common/http_server.hpp"

namespace fgac {

struct Readiness {
  bool ready = false;
  std::string reason;  // why not ready; never sent to clients in detail
};

using ReadinessProbe = std::function<boost::asio::awaitable<Readiness>()>;

HttpHandler monitor_handler(std::shared_ptr<prometheus::Registry> registry, ReadinessProbe readiness);

// Fixed histogram buckets (seconds) for request and delivery latencies.
const std::vector<double>& latency_buckets();

}  // namespace fgac
