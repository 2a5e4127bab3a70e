#include "service/api_metrics.hpp"

#include "common/monitor.hpp"

#include <algorithm>
#include <array>

namespace fgac::api {

ApiMetrics::ApiMetrics(prometheus::Registry& registry)
    : requests_(
          counter_family(registry, "http_requests_total", "HTTP requests served, by route pattern, method and status")),
      durations_(histogram_family(registry, "http_request_duration_seconds",
                                  "HTTP request latency, by route pattern and method")),
      tasks_created_(
          counter_family(registry, "tasks_created_total", "Tasks created, by the kind of principal that created them")),
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

namespace fgac::api {

AuthzMetrics::AuthzMetrics(prometheus::Registry& registry)
    : decisions_(counter_family(registry, "task_authz_decisions_total",
                                "Per-task authorization decisions, by operation, mode, decision and source")),
      creator_denied_(counter_family(registry, "task_authz_creator_denied_total",
                                     "SpiceDB denied a task's own recorded creator: the graph has drifted")),
      checks_(counter_family(registry, "task_authz_checks_total",
                             "POST /v1/authz/check calls, by outcome and exception class")),
      check_durations_(histogram_family(registry, "task_authz_check_duration_seconds",
                                        "POST /v1/authz/check latency, by operation and consistency")),
      shadow_dropped_(counter_family(registry, "task_authz_shadow_dropped_total",
                                     "Shadow decisions dropped because too many were in flight")
                          .Add({})),
      shadow_in_flight_(
          gauge_family(registry, "task_authz_shadow_in_flight", "Shadow decisions being computed").Add({})),
      breaker_open_(gauge_family(registry, "task_authz_breaker_open",
                                 "1 while the check circuit breaker is open (checks fail fast with 503)")
                        .Add({})) {
  // The rollout gate's series exist at 0 from the start, so increase() sees the first denial.
  for (const char* mode : {"shadow", "enforce"}) creator_denied_.Add({{"mode", mode}});
}

prometheus::Counter& AuthzMetrics::counter(prometheus::Family<prometheus::Counter>& family,
                                           const prometheus::Labels& labels) {
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(static_cast<const void*>(&family), labels);
  auto it = counters_.find(key);
  if (it == counters_.end()) it = counters_.emplace(std::move(key), &family.Add(labels)).first;
  return *it->second;
}

void AuthzMetrics::decision(std::string_view operation, std::string_view mode, bool allowed, std::string_view source) {
  counter(decisions_, {{"operation", std::string(operation)},
                       {"mode", std::string(mode)},
                       {"decision", allowed ? "allow" : "deny"},
                       {"source", std::string(source)}})
      .Increment();
}

void AuthzMetrics::creator_denied(std::string_view mode) {
  counter(creator_denied_, {{"mode", std::string(mode)}}).Increment();
}

void AuthzMetrics::check(std::string_view outcome, std::string_view exception_class) {
  counter(checks_, {{"outcome", std::string(outcome)}, {"exception_class", std::string(exception_class)}}).Increment();
}

void AuthzMetrics::check_duration(std::string_view operation, std::string_view consistency, double seconds) {
  prometheus::Histogram* histogram = nullptr;
  {
    std::lock_guard lock(mutex_);
    prometheus::Labels labels{{"operation", std::string(operation)}, {"consistency", std::string(consistency)}};
    auto it = histograms_.find(labels);
    if (it == histograms_.end()) {
      auto& h = check_durations_.Add(labels, prometheus::Histogram::BucketBoundaries(latency_buckets()));
      it = histograms_.emplace(std::move(labels), &h).first;
    }
    histogram = it->second;
  }
  histogram->Observe(seconds);
}

void AuthzMetrics::shadow_dropped() {
  shadow_dropped_.Increment();
}

void AuthzMetrics::shadow_in_flight(std::size_t n) {
  shadow_in_flight_.Set(static_cast<double>(n));
}

void AuthzMetrics::breaker(bool open) {
  breaker_open_.Set(open ? 1 : 0);
}

}  // namespace fgac::api
