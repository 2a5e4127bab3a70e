#include "service/authorization.hpp"

#include "common/enum_names.hpp"

namespace fgac::api {

namespace {

constexpr EnumNames<EnforceMode, EnforceMode::enforce> kEnforceModes{"off", "shadow", "enforce"};
constexpr EnumNames<ListMode, ListMode::lookup> kListModes{"creator", "lookup"};
constexpr EnumNames<Operation, Operation::delete_> kOperations{"read", "update", "cancel", "delete"};
constexpr EnumNames<DecisionSource, DecisionSource::no_subject> kSources{"spicedb", "pending_creator", "no_subject"};
constexpr EnumNames<ReadConsistency, ReadConsistency::fully_consistent> kConsistencies{"at_least_as_fresh",
                                                                                       "fully_consistent"};

}  // namespace

std::string_view mode_name(EnforceMode mode) {
  return kEnforceModes.name(mode);
}

std::optional<EnforceMode> parse_enforce_mode(std::string_view text) {
  return kEnforceModes.parse(text);
}

std::optional<ListMode> parse_list_mode(std::string_view text) {
  return kListModes.parse(text);
}

std::string_view operation_name(Operation op) {
  return kOperations.name(op);
}

std::string_view source_name(DecisionSource source) {
  return kSources.name(source);
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
  return kConsistencies.parse(text);
}

std::optional<std::string> check_zedtoken(Operation op, const TaskFacts& task, ReadConsistency reads) {
  if (op == Operation::read && reads == ReadConsistency::at_least_as_fresh) return task.zedtoken;
  return std::nullopt;
}

std::string_view consistency_name(const std::optional<std::string>& zedtoken) {
  return kConsistencies.name(zedtoken && !zedtoken->empty() ? ReadConsistency::at_least_as_fresh
                                                            : ReadConsistency::fully_consistent);
}

}  // namespace fgac::api
