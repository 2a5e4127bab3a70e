#include "service/api_metrics.hpp"

#include "common/monitor.hpp"

#include <algorithm>
#include <array>

namespace fgac::api {

ApiMetrics::ApiMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("http_requests_total")
                    .Help("HTTP requests served, by route pattern, method and status")
                    .Register(registry)),
      durations_(prometheus::BuildHistogram()
                     .Name("http_request_duration_seconds")
                     .Help("HTTP request latency, by route pattern and method")
                     .Register(registry)),
      tasks_created_(prometheus::BuildCounter()
                         .Name("tasks_created_total")
                         .Help("Tasks created, by the kind of principal that created them")
                         .Register(registry)),
      created_user_(&tasks_created_.Add({{"creator_kind", "user"}})),
      created_service_account_(&tasks_created_.Add({{"creator_kind", "service_account"}})),
      created_none_(&tasks_created_.Add({{"creator_kind", "none"}})) {}

std::string_view method_label(std::string_view method) {
  // A client may send any token as a method: only known ones become label values.
  static constexpr std::array<std::string_view, 9> kKnown{"GET",   "HEAD",    "POST",  "PUT",    "DELETE",
                                                          "PATCH", "OPTIONS", "TRACE", "CONNECT"};
  return std::find(kKnown.begin(), kKnown.end(), method) != kKnown.end() ? method : "OTHER";
}

void ApiMetrics::observe_request(std::string_view route, std::string_view raw_method, unsigned status, double seconds) {
  const std::string_view method = method_label(raw_method);
  prometheus::Counter* counter = nullptr;
  prometheus::Histogram* histogram = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto key = std::make_tuple(std::string(route), std::string(method), status);
    auto it = request_series_.find(key);
    if (it == request_series_.end()) {
      auto& c = requests_.Add(
          {{"route", std::string(route)}, {"method", std::string(method)}, {"status", std::to_string(status)}});
      it = request_series_.emplace(std::move(key), &c).first;
    }
    counter = it->second;
    auto hkey = std::make_pair(std::string(route), std::string(method));
    auto hit = duration_series_.find(hkey);
    if (hit == duration_series_.end()) {
      auto& h = durations_.Add({{"route", std::string(route)}, {"method", std::string(method)}},
                               prometheus::Histogram::BucketBoundaries(latency_buckets()));
      hit = duration_series_.emplace(std::move(hkey), &h).first;
    }
    histogram = hit->second;
  }
  counter->Increment();
  histogram->Observe(seconds);
}

void ApiMetrics::task_created(std::string_view creator_kind) {
  if (creator_kind == "user") {
    created_user_->Increment();
  } else if (creator_kind == "service_account") {
    created_service_account_->Increment();
  } else {
    created_none_->Increment();
  }
}

}  // namespace fgac::api
