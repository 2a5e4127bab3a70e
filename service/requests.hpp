// Request bodies and query strings, parsed and validated (pure functions:
// they throw ApiError and touch no I/O; the fuzz target drives them).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/api_error.hpp"

namespace fgac::api {

inline constexpr std::size_t kMaxNameLength = 255;
inline constexpr std::size_t kMaxDescriptionLength = 4096;
inline constexpr std::int64_t kDefaultPageSize = 50;
inline constexpr std::int64_t kMaxPageSize = 1000;
// Arrays and objects nested deeper than this are refused (422) while the body
// is parsed, before anything recursive (copy, dump, jsonb) sees it.
inline constexpr std::size_t kDefaultMaxJsonDepth = 64;

struct CreateAgentRequest {
  std::string name;
  std::optional<std::string> description;
  std::string acp_type = "async";
};

// POST /agents/register: upstream's create-or-update. principal_context is
// read and dropped: a principal comes from the authn call only.
struct RegisterAgentRequest {
  std::string name;  // ^[a-z0-9-]+$
  std::string description;
  std::string acp_url;
  std::string acp_type;                              // sync | async | agentic
  std::optional<std::string> agent_id;               // as sent: a non-UUID is a miss (404)
  std::optional<std::string> registration_metadata;  // JSON object text; unset when absent or {}
  std::optional<std::string> agent_input_type;       // text | json
};

// Which agent a task belongs to: by id or by name, exactly one.
struct AgentRef {
  std::optional<std::string> id;
  std::optional<std::string> name;
};

struct CreateTaskRequest {
  AgentRef agent;
  std::optional<std::string> name;
  std::optional<std::string> params;         // JSON object text
  std::optional<std::string> task_metadata;  // JSON object text
};

struct RpcRequest {
  nlohmann::json id;  // echoed back; null when absent
  std::string method;
  nlohmann::json params;
};

// ORDER BY for lists: order_by when it names a sortable column (anything else
// is ignored, as upstream does), then updated_at, created_at and id, all in
// one direction: descending unless order_direction is anything but "desc".
struct ListOrder {
  std::optional<std::string> column;  // from the allow-list only, never caller text
  bool descending = true;
};

struct AgentFilter {
  std::optional<std::string> task_id;  // as sent: a non-UUID matches nothing
  ListOrder order;
  std::int64_t limit = kDefaultPageSize;
  std::int64_t page_number = 1;
};

struct TaskFilter {
  std::optional<std::string> agent_id;
  std::optional<std::string> agent_name;
  std::optional<std::string> status;
  std::optional<std::string> creator_user_id;
  std::optional<std::string> creator_service_account_id;
  std::optional<std::string> task_metadata;  // JSON object text: containment (@>)
  bool with_agents = false;                  // relationships=agents
  // FGAC_TASKS_ENFORCE=enforce: only the caller's own tasks (the graph's owner
  // is the creator), by the creator columns; neither id set means none.
  struct Visibility {
    std::optional<std::string> user_id;
    std::optional<std::string> service_account_id;
    // FGAC_TASKS_LIST_MODE=lookup: the ids the authz service found readable;
    // then the creator columns select the caller's not-yet-registered tasks only.
    std::optional<std::vector<std::string>> granted_ids;
  };
  std::optional<Visibility> visible_to;
  ListOrder order;
  std::int64_t limit = kDefaultPageSize;
  std::int64_t page_number = 1;
};

// PUT /tasks/{id}: both optional; an absent (or null) field is left as is.
struct UpdateTaskRequest {
  std::optional<std::string> task_metadata;  // JSON object text: replaces the stored value
  std::optional<std::string> merge_params;   // JSON object text, non-empty: shallow-merged into params
  [[nodiscard]] bool empty() const { return !task_metadata && !merge_params; }
};

// The six status transitions of POST /tasks/{id}/{action}.
struct Transition {
  std::string_view action;       // complete, fail, ...
  std::string_view to;           // COMPLETED, FAILED, ...
  std::string_view reason;       // the default status_reason
  bool from_interrupted = true;  // interrupt: only from RUNNING
};
// The transition of an action in the path; unset for any other word.
std::optional<Transition> transition_for(std::string_view action);
// The body of a transition: empty, null, or {"reason": string|null}. Returns
// the status_reason to store (the default for an absent or empty reason).
std::string parse_transition_reason(std::string_view body, const Transition& transition,
                                    std::size_t max_depth = kDefaultMaxJsonDepth);

// A task the RPC method task/cancel names: by id or by name, exactly one.
struct TaskRef {
  std::optional<std::string> id;
  std::optional<std::string> name;
};

// Every task status of upstream's enum, and whether a status is one.
bool is_task_status(std::string_view status);

// Parses a body that must be a JSON object: 400 when not JSON (or not UTF-8),
// 422 when not an object, nested deeper than max_depth, holding a NUL in any
// string or key, or a number that JSON's double cannot hold (non-finite, or
// an integer beyond 64 bits): the caller's data is stored as sent or refused.
nlohmann::json parse_json_object(std::string_view body, std::size_t max_depth = kDefaultMaxJsonDepth);

CreateAgentRequest parse_create_agent(std::string_view body, std::size_t max_depth = kDefaultMaxJsonDepth);
RegisterAgentRequest parse_register_agent(std::string_view body, std::size_t max_depth = kDefaultMaxJsonDepth);
UpdateTaskRequest parse_update_task(std::string_view body, std::size_t max_depth = kDefaultMaxJsonDepth);
CreateTaskRequest parse_create_task(std::string_view body, std::size_t max_depth = kDefaultMaxJsonDepth);
// JSON-RPC 2.0 envelope: jsonrpc "2.0" when absent, id null when absent,
// method one of upstream's five, params a required object.
RpcRequest parse_rpc(std::string_view body, std::size_t max_depth = kDefaultMaxJsonDepth);
// task/create params: {name?, params?, task_metadata?} for the agent in the path.
CreateTaskRequest parse_rpc_task_create(const nlohmann::json& params, AgentRef agent);
// task/cancel params: {task_id?, task_name?}; both is 422. Neither is an
// unset ref: the caller answers a JSON-RPC error (upstream's 500 would be retried).
TaskRef parse_rpc_task_ref(const nlohmann::json& params);

// A query string's parameters: every value of a repeated key, in order.
class QueryParams {
 public:
  void add(std::string key, std::string value) { values_[std::move(key)].push_back(std::move(value)); }
  // The last value (FastAPI's rule for a scalar parameter); nullptr when absent.
  [[nodiscard]] const std::string* last(std::string_view key) const;
  // The last value; throws std::out_of_range when absent.
  [[nodiscard]] const std::string& at(std::string_view key) const;
  [[nodiscard]] const std::vector<std::string>* all(std::string_view key) const;
  [[nodiscard]] auto begin() const { return values_.begin(); }
  [[nodiscard]] auto end() const { return values_.end(); }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
};

// "a=1&b=x%20y" → parameters. Throws 400 on bad escapes and invalid UTF-8,
// 422 on a NUL.
QueryParams parse_query(std::string_view query);

// How '+' decodes: a space in a form-encoded query, itself in a path segment.
enum class PlusMeans { space, plus };
// Percent-decodes; the result is valid UTF-8 without NUL, or ApiError
// (malformed for a bad escape or invalid UTF-8, invalid for a NUL).
std::string percent_decode(std::string_view text, PlusMeans plus);
TaskFilter parse_task_filter(const QueryParams& query);
AgentFilter parse_agent_filter(const QueryParams& query);
// ?relationships= of a single task read: true when agents are asked for.
bool parse_relationships(const QueryParams& query);

// Validates a path segment that must be a UUID (422 otherwise).
std::string require_uuid(std::string_view text, std::string_view what);

}  // namespace fgac::api
