// The monitor port: /healthz (process alive), /readyz (dependencies ready) and
// /metrics (Prometheus text exposition of the process's registry).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
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

// A metric family registered on `registry` under its name and help text.
prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& registry, const std::string& name,
                                                        const std::string& help);
prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& registry, const std::string& name,
                                                    const std::string& help);
prometheus::Family<prometheus::Histogram>& histogram_family(prometheus::Registry& registry, const std::string& name,
                                                            const std::string& help);

// Fixed histogram buckets (seconds) for request latencies.
const std::vector<double>& latency_buckets();
// Delivery lag: the same fine buckets, then minutes to an hour, so a quantile
// after an outage is read off a bucket of the outage's own size.
const std::vector<double>& lag_buckets();

}  // namespace fgac
