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

boost::asio::awaitable<bool> AuthzChecker::check(const std::optional<Principal>& principal, Operation op,
                                                 const TaskFacts& task) {
  if (breaker_open()) {
    metrics_.check("error", "breaker_open");
    throw ApiError(ErrorKind::unavailable, "authorization service unavailable");
  }
  // Past open_until_ one call goes through as the probe; its outcome closes or reopens.
  const auto zedtoken = check_zedtoken(op, task, settings_.reads);
  const auto started = std::chrono::steady_clock::now();
  std::string exception_class;
  std::optional<bool> allowed;
  try {
    auto res = co_await client_.post_json("/v1/authz/check", check_request_body(principal, op, task, settings_.reads),
                                          headers_, settings_.timeout);
    if (res.status == 200) {
      allowed = true;
    } else if (res.status == 403) {
      allowed = false;
    } else {
      exception_class = "http_status";
      log::warn("authz check failed", {{"status", res.status}, {"task_id", task.id}});
    }
  } catch (const boost::system::system_error& e) {
    exception_class =
        e.code() == boost::asio::error::timed_out || e.code() == boost::beast::error::timeout ? "timeout" : "network";
    log::warn("authz check failed", {{"error", e.what()}, {"task_id", task.id}});
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.check_duration(operation_name(op), consistency_name(zedtoken), seconds);
  if (!allowed) {
    failed();
    metrics_.check("error", exception_class);
    throw ApiError(ErrorKind::unavailable, "authorization service unavailable");
  }
  answered();
  metrics_.check(*allowed ? "allowed" : "denied", "none");
  co_return *allowed;
}

}  // namespace fgac::api

namespace fgac::api {

boost::asio::awaitable<AuthzChecker::Found> AuthzChecker::search(const std::optional<Principal>& principal, int limit) {
  if (breaker_open()) {
    metrics_.check("error", "breaker_open");
    throw ApiError(ErrorKind::unavailable, "authorization service unavailable");
  }
  const nlohmann::json request{
      {"principal", outbox_principal(principal)}, {"resource_type", "task"}, {"operation", "read"}, {"limit", limit}};
  std::string exception_class = "http_status";
  std::optional<Found> found;
  try {
    auto res = co_await client_.post_json("/v1/authz/search", request.dump(), headers_, settings_.timeout);
    auto body = nlohmann::json::parse(res.body, nullptr, false);
    if (res.status == 200 && body.is_object() && body["resource_ids"].is_array()) {
      Found f;
      for (const auto& id : body["resource_ids"]) {
        if (id.is_string()) f.ids.push_back(id.get<std::string>());
      }
      f.truncated = body.value("truncated", false);
      found = std::move(f);
    } else {
      log::warn("authz search failed", {{"status", res.status}});
    }
  } catch (const boost::system::system_error& e) {
    exception_class = e.code() == boost::beast::error::timeout ? "timeout" : "network";
    log::warn("authz search failed", {{"error", e.what()}});
  }
  if (!found) {
    failed();
    metrics_.check("error", exception_class);
    throw ApiError(ErrorKind::unavailable, "authorization service unavailable");
  }
  answered();
  metrics_.check("allowed", "none");
  co_return std::move(*found);
}

}  // namespace fgac::api
