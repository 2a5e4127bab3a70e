#include "outbox_worker/outcome.hpp"

namespace fgac::worker {

Outcome classify(Op op, std::optional<unsigned> status) {
  if (!status) return {Action::retry, kUnavailable};
  const unsigned s = *status;
  if (s >= 200 && s < 300) return {Action::success, {}};
  if (s == 404 && op == Op::deregister) return {Action::success, {}};
  if (s == 503) return {Action::retry, kUnavailable};
  if (s == 502 || s == 504) return {Action::retry, kGateway};
  if (s == 401) return {Action::retry, kAuthentication};
  if (s == 403) return {Action::retry, kAuthorization};
  if (s == 429 || s >= 500) return {Action::retry, kService};
  if (s >= 400) return {Action::dead_letter, kService};
  // 1xx and 3xx are not answers this contract knows: treat as a service fault and retry.
  return {Action::retry, kService};
}

std::string_view op_name(Op op) {
  return op == Op::register_ ? "register" : "deregister";
}

}  // namespace fgac::worker
