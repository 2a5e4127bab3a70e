// Request bodies and query strings, parsed and validated (pure functions:
// they throw ApiError and touch no I/O; the fuzz target drives them).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

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

struct TaskFilter {
  std::optional<std::string> agent_id;
  std::optional<std::string> agent_name;
  std::optional<std::string> status;
  std::optional<std::string> creator_user_id;
  std::optional<std::string> creator_service_account_id;
  std::int64_t limit = kDefaultPageSize;
  std::int64_t page_number = 1;
};

// Parses a body that must be a JSON object: 400 when not JSON (or not UTF-8),
// 422 when not an object, nested deeper than max_depth, holding a NUL in any
// string or key, or a number that JSON's double cannot hold (non-finite, or
// an integer beyond 64 bits): the caller's data is stored as sent or refused.
nlohmann::json parse_json_object(std::string_view body, std::size_t max_depth = kDefaultMaxJsonDepth);

CreateAgentRequest parse_create_agent(std::string_view body, std::size_t max_depth = kDefaultMaxJsonDepth);
CreateTaskRequest parse_create_task(std::string_view body, std::size_t max_depth = kDefaultMaxJsonDepth);
// JSON-RPC 2.0 envelope; method and params are checked by the caller.
RpcRequest parse_rpc(std::string_view body, std::size_t max_depth = kDefaultMaxJsonDepth);
// task/create params: {name?, params?, task_metadata?} for the agent in the path.
CreateTaskRequest parse_rpc_task_create(const nlohmann::json& params, AgentRef agent);

// "a=1&b=x%20y" → map; repeated keys keep the last value. Throws 400 on bad
// escapes and invalid UTF-8, 422 on a NUL.
std::map<std::string, std::string> parse_query(std::string_view query);

// How '+' decodes: a space in a form-encoded query, itself in a path segment.
enum class PlusMeans { space, plus };
// Percent-decodes; the result is valid UTF-8 without NUL, or ApiError
// (malformed for a bad escape or invalid UTF-8, invalid for a NUL).
std::string percent_decode(std::string_view text, PlusMeans plus);
TaskFilter parse_task_filter(const std::map<std::string, std::string>& query);

// Validates a path segment that must be a UUID (422 otherwise).
std::string require_uuid(std::string_view text, std::string_view what);

}  // namespace fgac::api

namespace fgac::api {

struct Page {
  std::int64_t limit = kDefaultPageSize;
  std::int64_t page_number = 1;
};

// limit and page_number only; anything else is an unknown parameter (422).
Page parse_page(const std::map<std::string, std::string>& query);

}  // namespace fgac::api
