// The task API's Prometheus metrics: families registered once at start-up,
// series looked up once per (route, method, status) and then reused.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

namespace fgac::api {

// The method as a label value: one of the standard methods, else "OTHER".
std::string_view method_label(std::string_view method);

class ApiMetrics {
 public:
  explicit ApiMetrics(prometheus::Registry& registry);

  void observe_request(std::string_view route, std::string_view method, unsigned status, double seconds);
  void task_created(std::string_view creator_kind);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Family<prometheus::Counter>& tasks_created_;
  prometheus::Counter* created_user_;
  prometheus::Counter* created_service_account_;
  prometheus::Counter* created_none_;
  std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, unsigned>, prometheus::Counter*> request_series_;
  std::map<std::pair<std::string, std::string>, prometheus::Histogram*> duration_series_;
};

// FGAC_TASKS_ENFORCE: decisions, checks, the shadow queue and the breaker.
// Every label value comes from a fixed set (operation, mode, decision, source,
// outcome, exception class), so the series are bounded.
class AuthzMetrics {
 public:
  explicit AuthzMetrics(prometheus::Registry& registry);

  void decision(std::string_view operation, std::string_view mode, bool allowed, std::string_view source);
  // SpiceDB denied the task's own recorded creator: the graph has drifted (the rollout gate).
  void creator_denied(std::string_view mode);
  void check(std::string_view outcome, std::string_view exception_class);
  void check_duration(std::string_view operation, std::string_view consistency, double seconds);
  void shadow_dropped();
  void shadow_in_flight(std::size_t n);
  void breaker(bool open);

 private:
  prometheus::Counter& counter(prometheus::Family<prometheus::Counter>& family, const prometheus::Labels& labels);

  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Counter>& creator_denied_;
  prometheus::Family<prometheus::Counter>& checks_;
  prometheus::Family<prometheus::Histogram>& check_durations_;
  prometheus::Counter& shadow_dropped_;
  prometheus::Gauge& shadow_in_flight_;
  prometheus::Gauge& breaker_open_;
  std::mutex mutex_;
  std::map<std::pair<const void*, prometheus::Labels>, prometheus::Counter*> counters_;
  std::map<prometheus::Labels, prometheus::Histogram*> histograms_;
};

}  // namespace fgac::api
