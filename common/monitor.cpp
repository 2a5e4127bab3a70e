#include "common/monitor.hpp"

#include <prometheus/text_serializer.h>
#include <nlohmann/json.hpp>

namespace fgac {

HttpHandler monitor_handler(std::shared_ptr<prometheus::Registry> registry, ReadinessProbe readiness) {
  return [registry = std::move(registry),
          readiness = std::move(readiness)](HttpRequest& req) -> boost::asio::awaitable<HttpResponse> {
    const auto target = std::string_view(req.target());
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      co_return json_error(http::status::method_not_allowed, "method not allowed");
    }
    if (target == "/healthz") co_return json_response(http::status::ok, R"({"status":"ok"})");
    if (target == "/readyz") {
      Readiness r = co_await readiness();
      if (r.ready) co_return json_response(http::status::ok, R"({"status":"ready"})");
      co_return json_response(http::status::service_unavailable,
                              nlohmann::json{{"status", "not ready"}, {"reason", r.reason}}.dump());
    }
    if (target == "/metrics") {
      HttpResponse res{http::status::ok, 11};
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.body() = prometheus::TextSerializer{}.Serialize(registry->Collect());
      co_return res;
    }
    co_return json_error(http::status::not_found, "not found");
  };
}

prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& registry, const std::string& name,
                                                        const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& registry, const std::string& name,
                                                    const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Histogram>& histogram_family(prometheus::Registry& registry, const std::string& name,
                                                            const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,  0.25,
                                           0.5,   1.0,    2.5,   5.0,  10.0,  30.0, 60.0, 300.0};
  return buckets;
}

const std::vector<double>& lag_buckets() {
  static const std::vector<double> buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,  0.1,   0.25,  0.5,    1.0,   2.5,
                                           5.0,   10.0,   30.0,  60.0, 120.0, 180.0, 300.0, 600.0, 1800.0, 3600.0};
  return buckets;
}

}  // namespace fgac
