#include "service/authz_checker.hpp"

#include <boost/system/system_error.hpp>
#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "service/api_error.hpp"

namespace fgac::api {

std::string check_request_body(const std::optional<Principal>& principal, Operation op, const TaskFacts& task,
                               ReadConsistency reads) {
  nlohmann::json body{{"principal", outbox_principal(principal)},
                      {"resource", {{"type", "task"}, {"selector", task.id}}},
                      {"operation", operation_name(op)}};
  if (auto zedtoken = check_zedtoken(op, task, reads)) body["zedtoken"] = *zedtoken;
  return body.dump();
}

AuthzChecker::AuthzChecker(HttpClientSettings http, CheckerSettings settings, AuthzMetrics& metrics)
    : client_(std::move(http)), settings_(std::move(settings)), metrics_(metrics) {
  if (settings_.service_token) headers_.emplace_back("Authorization", "Bearer " + *settings_.service_token);
}

bool AuthzChecker::breaker_open() const {
  return consecutive_failures_ >= settings_.breaker_failures && std::chrono::steady_clock::now() < open_until_;
}

void AuthzChecker::failed() {
  if (++consecutive_failures_ >= settings_.breaker_failures) {
    if (consecutive_failures_ == settings_.breaker_failures) {
      log::warn("authz checks failing: circuit breaker open", {{"open_ms", settings_.breaker_open.count()}});
    }
    open_until_ = std::chrono::steady_clock::now() + settings_.breaker_open;
    metrics_.breaker(true);
  }
}

void AuthzChecker::answered() {
  if (consecutive_failures_ >= settings_.breaker_failures) log::info("authz checks answering again: breaker closed");
  consecutive_failures_ = 0;
  metrics_.breaker(false);
}

// Breaker, transport and status handling shared by check and search: the
// service's answer, or unset (already counted against the breaker) when it
// gave none that `acceptable` takes.
boost::asio::awaitable<std::optional<HttpClientResponse>> AuthzChecker::post(std::string path, std::string body,
                                                                             bool (*acceptable)(unsigned status)) {
  if (breaker_open()) {
    metrics_.check("error", "breaker_open");
    co_return std::nullopt;
  }
  // Past open_until_ one call goes through as the probe; its outcome closes or reopens.
  std::string exception_class = "http_status";
  try {
    auto res = co_await client_.post_json(path, std::move(body), headers_, settings_.timeout);
    if (acceptable(res.status)) {
      answered();
      co_return res;
    }
    log::warn("authz call failed", {{"path", path}, {"status", res.status}});
  } catch (const boost::system::system_error& e) {
    exception_class =
        e.code() == boost::asio::error::timed_out || e.code() == boost::beast::error::timeout ? "timeout" : "network";
    log::warn("authz call failed", {{"path", path}, {"error", e.what()}});
  }
  failed();
  metrics_.check("error", exception_class);
  co_return std::nullopt;
}

boost::asio::awaitable<bool> AuthzChecker::check(const std::optional<Principal>& principal, Operation op,
                                                 const TaskFacts& task) {
  const auto zedtoken = check_zedtoken(op, task, settings_.reads);
  const auto started = std::chrono::steady_clock::now();
  auto res = co_await post("/v1/authz/check", check_request_body(principal, op, task, settings_.reads),
                           [](unsigned status) { return status == 200 || status == 403; });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.check_duration(operation_name(op), consistency_name(zedtoken), seconds);
  if (!res) throw ApiError(ErrorKind::unavailable, "authorization service unavailable");
  const bool allowed = res->status == 200;
  metrics_.check(allowed ? "allowed" : "denied", "none");
  co_return allowed;
}

boost::asio::awaitable<AuthzChecker::Found> AuthzChecker::search(const std::optional<Principal>& principal, int limit) {
  const nlohmann::json request{
      {"principal", outbox_principal(principal)}, {"resource_type", "task"}, {"operation", "read"}, {"limit", limit}};
  auto res = co_await post("/v1/authz/search", request.dump(), [](unsigned status) { return status == 200; });
  const auto body = res ? nlohmann::json::parse(res->body, nullptr, false) : nlohmann::json();
  if (!body.is_object() || !body.contains("resource_ids") || !body["resource_ids"].is_array()) {
    // A 200 without the answer's shape is as good as no answer.
    if (res) {
      failed();
      metrics_.check("error", "http_status");
    }
    throw ApiError(ErrorKind::unavailable, "authorization service unavailable");
  }
  Found found;
  for (const auto& id : body["resource_ids"]) {
    if (id.is_string()) found.ids.push_back(id.get<std::string>());
  }
  found.truncated = body.value("truncated", false);
  metrics_.check("allowed", "none");
  co_return found;
}

}  // namespace fgac::api
