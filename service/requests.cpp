#include "service/requests.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "common/text.hpp"
#include "common/uuid.hpp"

namespace fgac::api {
namespace {

[[noreturn]] void invalid(const std::string& message) {
  throw ApiError(ErrorKind::invalid, message);
}

std::optional<std::string> optional_string(const nlohmann::json& body, const char* key, std::size_t max_length) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) invalid(std::string(key) + " must be a string");
  auto value = it->get<std::string>();
  if (value.size() > max_length)
    invalid(std::string(key) + " is longer than " + std::to_string(max_length) + " characters");
  return value;
}

std::optional<std::string> optional_name(const nlohmann::json& body, const char* key) {
  auto value = optional_string(body, key, kMaxNameLength);
  if (value && value->empty()) invalid(std::string(key) + " must not be empty");
  return value;
}

std::optional<std::string> optional_object(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_object()) invalid(std::string(key) + " must be a JSON object");
  return it->dump();
}

constexpr std::array<std::string_view, 3> kAcpTypes{"sync", "async", "agentic"};
constexpr std::array<std::string_view, 2> kAgentInputTypes{"text", "json"};
constexpr std::array<std::string_view, 7> kTaskStatuses{"CANCELED",    "COMPLETED",  "FAILED",   "RUNNING",
                                                        "INTERRUPTED", "TERMINATED", "TIMED_OUT"};
constexpr std::array<std::string_view, 5> kRpcMethods{"task/create", "task/cancel", "task/interrupt", "message/send",
                                                      "event/send"};

template <std::size_t N>
std::string allowed_list(const std::array<std::string_view, N>& values) {
  std::string out;
  for (auto v : values) out += (out.empty() ? "" : ", ") + std::string(v);
  return out;
}

// An optional string that must be one of `values`.
template <std::size_t N>
std::optional<std::string> one_of(const nlohmann::json& body, const char* key,
                                  const std::array<std::string_view, N>& values) {
  auto value = optional_string(body, key, kMaxNameLength);
  if (value && std::find(values.begin(), values.end(), *value) == values.end()) {
    invalid(std::string(key) + " must be one of " + allowed_list(values));
  }
  return value;
}

void reject_unknown_fields(const nlohmann::json& body, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : body.items()) {
    bool known = false;
    for (auto a : allowed) known = known || key == a;
    if (!known) invalid("unknown field " + key);
  }
}

AgentRef agent_ref(const nlohmann::json& body) {
  AgentRef ref;
  ref.id = optional_string(body, "agent_id", kMaxNameLength);
  ref.name = optional_name(body, "agent_name");
  if (ref.id && ref.name) invalid("give agent_id or agent_name, not both");
  if (!ref.id && !ref.name) invalid("agent_id or agent_name is required");
  if (ref.id) *ref.id = require_uuid(*ref.id, "agent_id");
  return ref;
}

// One pass over the body before it becomes a DOM: syntax (nlohmann's lexer
// also rejects invalid UTF-8), nesting depth, NUL and unrepresentable numbers.
// It stops at the first problem, so a hostile body costs no more than its bytes.
class BodyScreen final : public nlohmann::json::json_sax_t {
 public:
  explicit BodyScreen(std::size_t max_depth) : max_depth_(max_depth) {}
  std::optional<ApiError> problem;

  bool null() override { return true; }
  bool boolean(bool /*value*/) override { return true; }
  bool number_integer(number_integer_t /*value*/) override { return true; }
  bool number_unsigned(number_unsigned_t /*value*/) override { return true; }
  bool number_float(number_float_t /*value*/, const string_t& text) override {
    // An integer literal that reached here did not fit 64 bits and would be
    // stored rounded. (A float that overflows a double is a lexer error.)
    if (text.find_first_of(".eE") != string_t::npos) return true;
    return refuse(ErrorKind::invalid, "integer " + text.substr(0, 32) + " is out of range");
  }
  bool string(string_t& value) override { return no_nul(value, "a string"); }
  bool binary(binary_t& /*value*/) override { return true; }
  bool start_object(std::size_t /*elements*/) override { return deeper(); }
  bool key(string_t& value) override { return no_nul(value, "a key"); }
  bool end_object() override { return shallower(); }
  bool start_array(std::size_t /*elements*/) override { return deeper(); }
  bool end_array() override { return shallower(); }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& /*error*/) override {
    return refuse(ErrorKind::malformed, "request body is not valid JSON");
  }

 private:
  bool refuse(ErrorKind kind, const std::string& message) {
    if (!problem) problem.emplace(kind, message);
    return false;
  }
  bool no_nul(const string_t& value, const char* what) {
    if (value.find('\0') == string_t::npos) return true;
    return refuse(ErrorKind::invalid, std::string(what) + " contains a NUL character (\\u0000)");
  }
  bool deeper() {
    if (++depth_ <= max_depth_) return true;
    return refuse(ErrorKind::invalid, "JSON nested deeper than " + std::to_string(max_depth_) + " levels");
  }
  bool shallower() {
    --depth_;
    return true;
  }

  std::size_t max_depth_;
  std::size_t depth_ = 0;
};

}  // namespace

nlohmann::json parse_json_object(std::string_view body, std::size_t max_depth) {
  BodyScreen screen(max_depth);
  const bool ok = nlohmann::json::sax_parse(body, &screen);
  if (!ok || screen.problem) {
    if (screen.problem) throw *screen.problem;
    throw ApiError(ErrorKind::malformed, "request body is not valid JSON");
  }
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded()) throw ApiError(ErrorKind::malformed, "request body is not valid JSON");
  if (!json.is_object()) invalid("request body must be a JSON object");
  return json;
}

CreateAgentRequest parse_create_agent(std::string_view body, std::size_t max_depth) {
  auto json = parse_json_object(body, max_depth);
  reject_unknown_fields(json, {"name", "description", "acp_type"});
  CreateAgentRequest req;
  auto name = optional_name(json, "name");
  if (!name) invalid("name is required");
  req.name = *name;
  req.description = optional_string(json, "description", kMaxDescriptionLength);
  if (auto acp = one_of(json, "acp_type", kAcpTypes)) req.acp_type = *acp;
  return req;
}

RegisterAgentRequest parse_register_agent(std::string_view body, std::size_t max_depth) {
  auto json = parse_json_object(body, max_depth);
  reject_unknown_fields(json, {"name", "description", "acp_url", "acp_type", "agent_id", "principal_context",
                               "registration_metadata", "agent_input_type"});
  RegisterAgentRequest req;
  auto name = optional_name(json, "name");
  if (!name) invalid("name is required");
  if (!std::all_of(name->begin(), name->end(),
                   [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; })) {
    invalid("name must match ^[a-z0-9-]+$");
  }
  req.name = *name;
  auto description = optional_string(json, "description", kMaxDescriptionLength);
  if (!description) invalid("description is required");
  req.description = *description;
  auto url = optional_string(json, "acp_url", kMaxDescriptionLength);
  if (!url) invalid("acp_url is required");
  req.acp_url = *url;
  auto acp = one_of(json, "acp_type", kAcpTypes);
  if (!acp) invalid("acp_type is required");
  req.acp_type = *acp;
  req.agent_id = optional_string(json, "agent_id", kMaxNameLength);
  req.registration_metadata = optional_object(json, "registration_metadata");
  if (req.registration_metadata == "{}") req.registration_metadata.reset();  // upstream merges only a non-empty one
  req.agent_input_type = one_of(json, "agent_input_type", kAgentInputTypes);
  return req;
}

UpdateTaskRequest parse_update_task(std::string_view body, std::size_t max_depth) {
  auto json = parse_json_object(body, max_depth);
  reject_unknown_fields(json, {"task_metadata", "merge_params"});
  UpdateTaskRequest req;
  req.task_metadata = optional_object(json, "task_metadata");
  req.merge_params = optional_object(json, "merge_params");
  if (req.merge_params == "{}") req.merge_params.reset();  // upstream ignores an empty patch
  return req;
}

std::optional<Transition> transition_for(std::string_view action) {
  static constexpr std::array<Transition, 6> kTransitions{{
      {"complete", "COMPLETED", "Task completed", true},
      {"fail", "FAILED", "Task failed", true},
      {"cancel", "CANCELED", "Task canceled", true},
      {"terminate", "TERMINATED", "Task terminated", true},
      {"timeout", "TIMED_OUT", "Task timed_out", true},  // sic: upstream's status.value.lower()
      {"interrupt", "INTERRUPTED", "Task interrupted", false},
  }};
  for (const auto& t : kTransitions) {
    if (t.action == action) return t;
  }
  return std::nullopt;
}

std::string parse_transition_reason(std::string_view body, const Transition& transition, std::size_t max_depth) {
  std::optional<std::string> reason;
  auto trimmed = body;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())) != 0) trimmed.remove_prefix(1);
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())) != 0) trimmed.remove_suffix(1);
  if (!trimmed.empty() && trimmed != "null") {
    auto json = parse_json_object(body, max_depth);
    reject_unknown_fields(json, {"reason"});
    reason = optional_string(json, "reason", kMaxDescriptionLength);
  }
  // `reason or default`: an empty reason gets the default too.
  if (!reason || reason->empty()) return std::string(transition.reason);
  return *reason;
}

bool is_task_status(std::string_view status) {
  return std::find(kTaskStatuses.begin(), kTaskStatuses.end(), status) != kTaskStatuses.end();
}

CreateTaskRequest parse_create_task(std::string_view body, std::size_t max_depth) {
  auto json = parse_json_object(body, max_depth);
  reject_unknown_fields(json, {"agent_id", "agent_name", "name", "params", "task_metadata"});
  CreateTaskRequest req;
  req.agent = agent_ref(json);
  req.name = optional_name(json, "name");
  req.params = optional_object(json, "params");
  req.task_metadata = optional_object(json, "task_metadata");
  return req;
}

RpcRequest parse_rpc(std::string_view body, std::size_t max_depth) {
  auto json = parse_json_object(body, max_depth);
  RpcRequest req;
  // Absent means "2.0", as upstream agentex defaults it (its client leaves it out).
  if (auto it = json.find("jsonrpc"); it != json.end() && *it != "2.0") invalid("jsonrpc must be \"2.0\"");
  if (auto it = json.find("id"); it != json.end()) {
    if (!it->is_null() && !it->is_string() && !it->is_number_integer()) invalid("id must be a string or an integer");
    req.id = *it;
  }
  auto method = json.find("method");
  if (method == json.end() || !method->is_string()) invalid("method must be a string");
  req.method = method->get<std::string>();
  if (std::find(kRpcMethods.begin(), kRpcMethods.end(), req.method) == kRpcMethods.end()) {
    invalid("method must be one of " + allowed_list(kRpcMethods));
  }
  auto params = json.find("params");
  if (params == json.end() || params->is_null()) invalid("params is required");
  if (!params->is_object()) invalid("params must be a JSON object");
  req.params = *params;
  return req;
}

CreateTaskRequest parse_rpc_task_create(const nlohmann::json& params, AgentRef agent) {
  reject_unknown_fields(params, {"name", "params", "task_metadata"});
  CreateTaskRequest req;
  req.agent = std::move(agent);
  req.name = optional_name(params, "name");
  req.params = optional_object(params, "params");
  req.task_metadata = optional_object(params, "task_metadata");
  return req;
}

TaskRef parse_rpc_task_ref(const nlohmann::json& params) {
  reject_unknown_fields(params, {"task_id", "task_name"});
  TaskRef ref;
  ref.id = optional_string(params, "task_id", kMaxNameLength);
  ref.name = optional_name(params, "task_name");
  if (ref.id && ref.name) invalid("Cannot provide both task_id and task_name - use only one");
  return ref;
}

std::string percent_decode(std::string_view text, PlusMeans plus) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+' && plus == PlusMeans::space) {
      out.push_back(' ');
    } else if (c == '%') {
      unsigned value = 0;
      if (i + 2 >= text.size()) throw ApiError(ErrorKind::malformed, "bad percent-encoding");
      auto [ptr, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      if (ec != std::errc() || ptr != text.data() + i + 3) throw ApiError(ErrorKind::malformed, "bad percent-encoding");
      out.push_back(static_cast<char>(value));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  if (!is_valid_utf8(out)) throw ApiError(ErrorKind::malformed, "URL is not valid UTF-8");
  if (out.find('\0') != std::string::npos) invalid("URL contains a NUL character (%00)");
  return out;
}

const std::string* QueryParams::last(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second.back();
}

const std::string& QueryParams::at(std::string_view key) const {
  const auto* value = last(key);
  if (value == nullptr) throw std::out_of_range("no query parameter " + std::string(key));
  return *value;
}

const std::vector<std::string>* QueryParams::all(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

QueryParams parse_query(std::string_view query) {
  QueryParams out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), PlusMeans::space);
    auto value = eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1), PlusMeans::space);
    out.add(std::move(key), std::move(value));
  }
  return out;
}

namespace {

constexpr std::int64_t kMaxPageNumber = 1'000'000;

// An integer parameter: unset when absent or empty; 422 when not an integer.
std::optional<std::int64_t> integer_param(const QueryParams& query, const char* key) {
  const auto* s = query.last(key);
  if (s == nullptr || s->empty()) return std::nullopt;
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), value);
  if (ec != std::errc() || ptr != s->data() + s->size()) invalid(std::string(key) + " must be an integer");
  return value;
}

std::int64_t bounded(std::optional<std::int64_t> value, const char* key, std::int64_t fallback, std::int64_t max) {
  if (!value) return fallback;
  if (*value < 1 || *value > max) invalid(std::string(key) + " must be an integer from 1 to " + std::to_string(max));
  return *value;
}

std::optional<std::string> query_value(const QueryParams& query, const char* key) {
  const auto* value = query.last(key);
  if (value == nullptr || value->empty()) return std::nullopt;
  if (value->size() > kMaxNameLength) invalid(std::string(key) + " is too long");
  return *value;
}

template <std::size_t N>
void reject_unknown_params(const QueryParams& query, const std::array<std::string_view, N>& known) {
  for (const auto& [key, values] : query) {
    if (std::find(known.begin(), known.end(), key) == known.end()) invalid("unknown query parameter " + key);
  }
}

// Upstream's rule: order_by is used only when it names a column (here: one of
// `columns`), and every direction but "desc" (any case) is ascending.
template <std::size_t N>
ListOrder parse_order(const QueryParams& query, const std::array<std::string_view, N>& columns) {
  ListOrder order;
  if (auto by = query_value(query, "order_by")) {
    auto it = std::find(columns.begin(), columns.end(), *by);
    if (it != columns.end()) order.column = std::string(*it);
  }
  if (auto direction = query_value(query, "order_direction")) {
    std::string lower(*direction);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    order.descending = lower == "desc";
  }
  return order;
}

// The containment filter: a JSON object, non-empty; upstream answers 400 for
// each way it can be wrong.
std::optional<std::string> metadata_filter(const QueryParams& query) {
  const auto* text = query.last("task_metadata");
  if (text == nullptr) return std::nullopt;
  nlohmann::json json;
  try {
    json = parse_json_object(*text);
  } catch (const ApiError& e) {
    if (e.kind() == ErrorKind::malformed) {
      throw ApiError(ErrorKind::malformed, "Invalid JSON in task_metadata query parameter: " + std::string(e.what()));
    }
    if (std::string_view(e.what()) == "request body must be a JSON object") {
      throw ApiError(ErrorKind::malformed, "task_metadata must decode to a JSON object.");
    }
    throw;
  }
  if (json.empty())
    throw ApiError(ErrorKind::malformed, "task_metadata cannot be empty; omit the parameter to skip filtering.");
  return json.dump();
}

}  // namespace

bool parse_relationships(const QueryParams& query) {
  const auto* values = query.all("relationships");
  if (values == nullptr) return false;
  bool agents = false;
  // Repeated keys (what upstream's server reads) and comma-joined values (what its client sends).
  for (const auto& value : *values) {
    std::string_view rest = value;
    while (true) {
      auto comma = rest.find(',');
      auto item = rest.substr(0, comma);
      if (item != "agents") invalid("relationships must be a list of: agents");
      agents = true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return agents;
}

AgentFilter parse_agent_filter(const QueryParams& query) {
  static constexpr std::array<std::string_view, 5> kKeys{"task_id", "limit", "page_number", "order_by",
                                                         "order_direction"};
  static constexpr std::array<std::string_view, 8> kColumns{"id",     "name",       "description", "acp_type",
                                                            "status", "created_at", "updated_at",  "registered_at"};
  reject_unknown_params(query, kKeys);
  AgentFilter f;
  f.task_id = query_value(query, "task_id");
  f.order = parse_order(query, kColumns);
  f.limit = bounded(integer_param(query, "limit"), "limit", kDefaultPageSize, kMaxPageSize);
  f.page_number = bounded(integer_param(query, "page_number"), "page_number", 1, kMaxPageNumber);
  return f;
}

TaskFilter parse_task_filter(const QueryParams& query) {
  static constexpr std::array<std::string_view, 11> kKeys{"agent_id",
                                                          "agent_name",
                                                          "status",
                                                          "task_metadata",
                                                          "limit",
                                                          "page_number",
                                                          "order_by",
                                                          "order_direction",
                                                          "relationships",
                                                          "creator_user_id",
                                                          "creator_service_account_id"};
  static constexpr std::array<std::string_view, 6> kColumns{"id",         "name",      "status", "status_reason",
                                                            "created_at", "updated_at"};
  reject_unknown_params(query, kKeys);
  TaskFilter f;
  f.agent_id = query_value(query, "agent_id");
  if (f.agent_id) *f.agent_id = require_uuid(*f.agent_id, "agent_id");
  f.agent_name = query_value(query, "agent_name");
  f.status = query_value(query, "status");
  if (f.status == "DELETED") {
    throw ApiError(ErrorKind::malformed,
                   "Cannot filter by DELETED status; deleted tasks are not returned by list_tasks.");
  }
  if (f.status && !is_task_status(*f.status)) invalid("status must be one of " + allowed_list(kTaskStatuses));
  f.creator_user_id = query_value(query, "creator_user_id");
  f.creator_service_account_id = query_value(query, "creator_service_account_id");
  f.task_metadata = metadata_filter(query);
  f.with_agents = parse_relationships(query);
  f.order = parse_order(query, kColumns);
  // Upstream: `limit or 50`, no upper bound (ours: kMaxPageSize); a negative one is its 500, our 400.
  auto limit = integer_param(query, "limit");
  if (limit && *limit < 0) throw ApiError(ErrorKind::malformed, "limit must not be negative");
  f.limit = limit && *limit > 0 ? bounded(limit, "limit", kDefaultPageSize, kMaxPageSize) : kDefaultPageSize;
  auto page = integer_param(query, "page_number");
  if (page && *page < 1) throw ApiError(ErrorKind::malformed, "Page number must be greater than 0");
  f.page_number = bounded(page, "page_number", 1, kMaxPageNumber);
  return f;
}

std::string require_uuid(std::string_view text, std::string_view what) {
  if (!is_uuid(text)) invalid(std::string(what) + " must be a UUID");
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace fgac::api
