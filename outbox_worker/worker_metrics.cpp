#include "outbox_worker/worker_metrics.hpp"

#include "common/monitor.hpp"

namespace fgac::worker {

WorkerMetrics::WorkerMetrics(prometheus::Registry& registry)
    : retries_(counter_family(registry, "task_fgac_dual_write_retries_total",
                              "Authz calls that failed and will be retried, by op and exception class")),
      failures_(counter_family(registry, "task_fgac_dual_write_failures_total",
                               "Outbox rows dead-lettered, by op and exception class")) {
  auto& attempts = counter_family(registry, "task_fgac_dual_write_attempts_total", "Authz calls attempted, by op");
  auto& successes =
      counter_family(registry, "task_fgac_dual_write_success_total", "Changes delivered to the authz service, by op");
  auto& durations =
      histogram_family(registry, "task_fgac_dual_write_request_duration_seconds", "Authz call latency, by op");
  auto& lags = histogram_family(registry, "task_fgac_dual_write_lag_seconds",
                                "Time from the change's commit to its delivery, by op");
  for (Op op : {Op::register_, Op::deregister}) {
    const std::string name(op_name(op));
    per_op_.at(index(op)) = {&attempts.Add({{"op", name}}), &successes.Add({{"op", name}}),
                             &durations.Add({{"op", name}}, prometheus::Histogram::BucketBoundaries(latency_buckets())),
                             &lags.Add({{"op", name}}, prometheus::Histogram::BucketBoundaries(lag_buckets()))};
  }
  pending_ = &gauge_family(registry, "authz_outbox_pending", "Outbox rows waiting for delivery").Add({});
  dead_ = &gauge_family(registry, "authz_outbox_dead", "Dead-lettered outbox rows").Add({});
  oldest_ = &gauge_family(registry, "authz_outbox_oldest_pending_age_seconds", "Age of the oldest pending outbox row")
                 .Add({});
  breaker_open_ =
      &gauge_family(registry, "task_fgac_dual_write_breaker_open",
                    "1 while the circuit breaker holds claims back because the authz service is unavailable")
           .Add({});
  completion_batch_ = &histogram_family(registry, "task_fgac_dual_write_completion_batch_rows",
                                        "Deliveries recorded per completion statement (group commit)")
                           .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 5, 10, 20, 50, 100, 200, 500});
}

void WorkerMetrics::success(Op op, double lag_seconds) {
  auto& p = per_op_.at(index(op));
  p.successes->Increment();
  p.lag->Observe(std::max(0.0, lag_seconds));
}

prometheus::Counter& WorkerMetrics::by_class(prometheus::Family<prometheus::Counter>& family, Op op,
                                             std::string_view cls) {
  // Only the I/O thread touches this map.
  auto key = std::make_tuple(static_cast<const void*>(&family), op, std::string(cls));
  auto it = class_series_.find(key);
  if (it == class_series_.end()) {
    auto& c = family.Add({{"op", std::string(op_name(op))}, {"exception_class", std::string(cls)}});
    it = class_series_.emplace(std::move(key), &c).first;
  }
  return *it->second;
}

void WorkerMetrics::gauges(const outbox::Gauges& g) {
  pending_->Set(static_cast<double>(g.pending));
  dead_->Set(static_cast<double>(g.dead));
  oldest_->Set(g.oldest_pending_age_seconds);
}

}  // namespace fgac::worker
