// What an authz call's result means for its outbox row (pure). The
// exception_class names are the original system's: they are metric labels.
#pragma once

#include <optional>
#include <string_view>

#include "outbox/outbox.hpp"

namespace fgac::worker {

using outbox::Op;
using outbox::op_name;

enum class Action { success, retry, dead_letter };

struct Outcome {
  Action action;
  std::string_view exception_class;  // empty on success
};

inline constexpr std::string_view kUnavailable = "AuthenticationServiceUnavailableError";
inline constexpr std::string_view kGateway = "AuthenticationGatewayError";
inline constexpr std::string_view kAuthentication = "AuthenticationError";
inline constexpr std::string_view kAuthorization = "AuthorizationError";
inline constexpr std::string_view kService = "ServiceError";

// `status` is unset for a network error or a timeout.
//   network error, timeout, 503 -> AuthenticationServiceUnavailableError, retry
//   502, 504                    -> AuthenticationGatewayError, retry
//   401                         -> AuthenticationError, retry (a systemic credential
//                                  fault must never dead-letter the backlog)
//   403                         -> AuthorizationError, retry
//   429, 500, other 5xx         -> ServiceError, retry
//   404 on deregister           -> success (already gone)
//   400, 409, 422, other 4xx    -> ServiceError, dead letter after one attempt
//   2xx                         -> success
Outcome classify(Op op, std::optional<unsigned> status);

// The authz service itself is away (not this one request): what trips the circuit breaker.
inline bool means_service_unavailable(const Outcome& outcome) {
  return outcome.exception_class == kUnavailable || outcome.exception_class == kGateway;
}

}  // namespace fgac::worker
