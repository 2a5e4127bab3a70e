#include "outbox_worker/outcome.hpp"

namespace fgac::worker {

Outcome classify(Op op, std::optional<unsigned> status) {
  if (!status) return {Action::retry, kUnavailable};
  const unsigned s = *status;
  if (s >= 200 && s < 300) return {Action::success, {}};
  if (s == 404 && op == Op::deregister) return {Action::success, {}};
  // 408 and 499: the request timed out or was given up on before the service
  // acted on it (the reference server's answer past X-Request-Deadline). A
  // timeout, not a verdict on the event: retry like one.
  if (s == 503 || s == 408 || s == 499) return {Action::retry, kUnavailable};
  if (s == 502 || s == 504) return {Action::retry, kGateway};
  if (s == 401) return {Action::retry, kAuthentication};
  if (s == 403) return {Action::retry, kAuthorization};
  if (s == 429 || s >= 500) return {Action::retry, kService};
  if (s >= 400) return {Action::dead_letter, kService};
  // 1xx and 3xx are not answers this contract knows: treat as a service fault and retry.
  return {Action::retry, kService};
}

}  // namespace fgac::worker
