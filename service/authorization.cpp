#include "service/authorization.hpp"

namespace fgac::api {

std::string_view mode_name(EnforceMode mode) {
  switch (mode) {
    case EnforceMode::off:
      return "off";
    case EnforceMode::shadow:
      return "shadow";
    case EnforceMode::enforce:
      return "enforce";
  }
  return "off";
}

std::optional<EnforceMode> parse_enforce_mode(std::string_view text) {
  for (auto mode : {EnforceMode::off, EnforceMode::shadow, EnforceMode::enforce}) {
    if (text == mode_name(mode)) return mode;
  }
  return std::nullopt;
}

std::optional<ListMode> parse_list_mode(std::string_view text) {
  if (text == "creator") return ListMode::creator;
  if (text == "lookup") return ListMode::lookup;
  return std::nullopt;
}

std::string_view operation_name(Operation op) {
  switch (op) {
    case Operation::read:
      return "read";
    case Operation::update:
      return "update";
    case Operation::cancel:
      return "cancel";
    case Operation::delete_:
      return "delete";
  }
  return "read";
}

std::string_view source_name(DecisionSource source) {
  switch (source) {
    case DecisionSource::spicedb:
      return "spicedb";
    case DecisionSource::pending_creator:
      return "pending_creator";
    case DecisionSource::no_subject:
      return "no_subject";
  }
  return "spicedb";
}

bool is_creator(const std::optional<Principal>& principal, const TaskFacts& task) {
  const auto me = creator_of(principal);
  if (me.user_id) return task.creator_user_id == me.user_id;
  if (me.service_account_id) return task.creator_service_account_id == me.service_account_id;
  return false;
}

LocalDecision decide_locally(const std::optional<Principal>& principal, const TaskFacts& task) {
  const auto me = creator_of(principal);
  if (!me.user_id && !me.service_account_id) return {false, DecisionSource::no_subject};
  if (!task.registered) return {is_creator(principal, task), DecisionSource::pending_creator};
  return {std::nullopt, DecisionSource::spicedb};
}

std::optional<ReadConsistency> parse_read_consistency(std::string_view text) {
  if (text == "at_least_as_fresh") return ReadConsistency::at_least_as_fresh;
  if (text == "fully_consistent") return ReadConsistency::fully_consistent;
  return std::nullopt;
}

std::optional<std::string> check_zedtoken(Operation op, const TaskFacts& task, ReadConsistency reads) {
  if (op == Operation::read && reads == ReadConsistency::at_least_as_fresh) return task.zedtoken;
  return std::nullopt;
}

std::string_view consistency_name(const std::optional<std::string>& zedtoken) {
  return zedtoken && !zedtoken->empty() ? "at_least_as_fresh" : "fully_consistent";
}

}  // namespace fgac::api
