// POST /v1/authz/check for the task API's enforcement, failing closed: a
// service that cannot answer (unreachable, timing out, any status but 200 or
// 403) is a 503, never an allow and never a 404. A small circuit breaker
// fails fast while it lasts. No decision is cached across requests (a stale
// allow would outlive a revoke).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/asio.hpp"
#include "common/http_client.hpp"
#include "service/api_metrics.hpp"
#include "service/authorization.hpp"

namespace fgac::api {

struct CheckerSettings {
  std::chrono::milliseconds timeout{1000};
  std::optional<std::string> service_token;  // AUTHZ_SERVICE_TOKEN, as the worker sends it
  ReadConsistency reads = ReadConsistency::at_least_as_fresh;
  int breaker_failures = 5;  // consecutive failures that open the breaker
  std::chrono::milliseconds breaker_open{1000};
};

class AuthzChecker {
 public:
  AuthzChecker(HttpClientSettings http, CheckerSettings settings, AuthzMetrics& metrics);

  // Allowed or denied; throws ApiError(unavailable) when the service cannot say.
  boost::asio::awaitable<bool> check(const std::optional<Principal>& principal, Operation op, const TaskFacts& task);
  // LookupResources through POST /v1/authz/search: the tasks the caller may
  // read, at most `limit`; truncated when there were more. Fails closed like check().
  struct Found {
    std::vector<std::string> ids;
    bool truncated = false;
  };
  boost::asio::awaitable<Found> search(const std::optional<Principal>& principal, int limit);
  [[nodiscard]] bool breaker_open() const;

 private:
  boost::asio::awaitable<std::optional<HttpClientResponse>> post(std::string path, std::string body,
                                                                 bool (*acceptable)(unsigned status));
  void failed();
  void answered();

  HttpClient client_;
  CheckerSettings settings_;
  AuthzMetrics& metrics_;
  HeaderList headers_;
  int consecutive_failures_ = 0;  // the API runs on one I/O thread
  std::chrono::steady_clock::time_point open_until_{};
};

// The /v1/authz/check body: the caller's credential-free principal, the task,
// the operation and (a read) the task's zedtoken.
std::string check_request_body(const std::optional<Principal>& principal, Operation op, const TaskFacts& task,
                               ReadConsistency reads = ReadConsistency::at_least_as_fresh);

}  // namespace fgac::api
