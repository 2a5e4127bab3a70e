// The task API's Prometheus metrics: families registered once at start-up,
// series looked up once per (route, method, status) and then reused.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
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

}  // namespace fgac::api
