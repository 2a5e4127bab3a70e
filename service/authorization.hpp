// Per-task authorization (FGAC_TASKS_ENFORCE): what each route needs and the
// decision rule, as pure functions. The I/O (the task's facts from Postgres,
// the check against the authz service) is TaskApi's and AuthzChecker's.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "service/principal.hpp"

namespace fgac::api {

enum class EnforceMode { off, shadow, enforce };
std::string_view mode_name(EnforceMode mode);
// "off" | "shadow" | "enforce"; unset for anything else.
std::optional<EnforceMode> parse_enforce_mode(std::string_view text);

// How lists are filtered under enforce: by the caller's creator column (the
// graph's owner is the creator), or by LookupResources on the authz service
// (also tasks shared with the caller), plus the caller's own pending tasks.
enum class ListMode { creator, lookup };
std::optional<ListMode> parse_list_mode(std::string_view text);

// What a route may do to the task it names (the authz schema's permissions).
enum class Operation { read, update, cancel, delete_ };
std::string_view operation_name(Operation op);

// What the database holds about a task, as much as a decision needs.
struct TaskFacts {
  std::string id;
  std::optional<std::string> creator_user_id;
  std::optional<std::string> creator_service_account_id;
  // An acknowledged register: synced, and no outbox row still wanting it present.
  bool registered = false;
  std::optional<std::string> zedtoken;  // from that register
};

enum class DecisionSource { spicedb, pending_creator, no_subject };
std::string_view source_name(DecisionSource source);

// The part of a decision taken without the authz service.
struct LocalDecision {
  std::optional<bool> allowed;  // unset: ask the authz service
  DecisionSource source = DecisionSource::spicedb;
};

// The rule:
// - a principal naming no user or service account is denied;
// - a task not yet registered belongs to its recorded creator alone (exactly
//   the owner tuple its register will write); with no creator, to nobody;
// - a registered task is the authz service's to decide.
LocalDecision decide_locally(const std::optional<Principal>& principal, const TaskFacts& task);

// Whether the caller is the task's recorded creator.
bool is_creator(const std::optional<Principal>& principal, const TaskFacts& task);

// How reads are checked (FGAC_TASKS_READ_CONSISTENCY): at least as fresh as
// the task's register (its zedtoken: SpiceDB may answer from a snapshot up to
// its quantization interval old, so a later grant or revoke can take that long
// to show), or fully consistent (a revoke wins at once, at SpiceDB's cost).
enum class ReadConsistency { at_least_as_fresh, fully_consistent };
std::optional<ReadConsistency> parse_read_consistency(std::string_view text);

// The zedtoken a check sends: a read's (at_least_as_fresh) is the task's;
// update, cancel and delete are always fully consistent, so a revoke wins.
std::optional<std::string> check_zedtoken(Operation op, const TaskFacts& task,
                                          ReadConsistency reads = ReadConsistency::at_least_as_fresh);
std::string_view consistency_name(const std::optional<std::string>& zedtoken);

}  // namespace fgac::api
