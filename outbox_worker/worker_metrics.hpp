// The worker's Prometheus metrics, named as DESIGN.md names them. Families
// are registered once; series are created once per label set and reused.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <array>
#include <map>
#include <string>
#include <tuple>

#include "outbox/outbox.hpp"
#include "outbox_worker/outcome.hpp"

namespace fgac::worker {

class WorkerMetrics {
 public:
  explicit WorkerMetrics(prometheus::Registry& registry);

  void attempt(Op op) { per_op_.at(index(op)).attempts->Increment(); }
  void success(Op op, double lag_seconds);
  void retry(Op op, std::string_view exception_class) { by_class(retries_, op, exception_class).Increment(); }
  void failure(Op op, std::string_view exception_class) { by_class(failures_, op, exception_class).Increment(); }
  void request_duration(Op op, double seconds) { per_op_.at(index(op)).duration->Observe(seconds); }
  void gauges(const outbox::Gauges& g);
  void breaker_open(bool open) { breaker_open_->Set(open ? 1.0 : 0.0); }
  void completion_batch(std::size_t rows) { completion_batch_->Observe(static_cast<double>(rows)); }

 private:
  struct PerOp {
    prometheus::Counter* attempts;
    prometheus::Counter* successes;
    prometheus::Histogram* duration;
    prometheus::Histogram* lag;
  };
  static std::size_t index(Op op) { return op == Op::register_ ? 0 : 1; }
  prometheus::Counter& by_class(prometheus::Family<prometheus::Counter>& family, Op op, std::string_view cls);

  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Counter>& failures_;
  std::array<PerOp, 2> per_op_{};
  std::map<std::tuple<const void*, Op, std::string>, prometheus::Counter*> class_series_;
  prometheus::Gauge* pending_;
  prometheus::Gauge* dead_;
  prometheus::Gauge* oldest_;
  prometheus::Gauge* breaker_open_;
  prometheus::Histogram* completion_batch_;
};

}  // namespace fgac::worker
