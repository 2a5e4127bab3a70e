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
  reject_unknown_fields(json, {"name", "description"});
  CreateAgentRequest req;
  auto name = optional_name(json, "name");
  if (!name) invalid("name is required");
  req.name = *name;
  req.description = optional_string(json, "description", kMaxDescriptionLength);
  return req;
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
  auto params = json.find("params");
  req.params = params == json.end() || params->is_null() ? nlohmann::json::object() : *params;
  if (!req.params.is_object()) invalid("params must be a JSON object");
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

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), PlusMeans::space);
    auto value = eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1), PlusMeans::space);
    out[std::move(key)] = std::move(value);
  }
  return out;
}

namespace {
std::int64_t positive_int(const std::map<std::string, std::string>& query, const char* key, std::int64_t fallback,
                          std::int64_t max) {
  auto it = query.find(key);
  if (it == query.end() || it->second.empty()) return fallback;
  std::int64_t value = 0;
  const auto& s = it->second;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size() || value < 1 || value > max) {
    invalid(std::string(key) + " must be an integer from 1 to " + std::to_string(max));
  }
  return value;
}

std::optional<std::string> query_value(const std::map<std::string, std::string>& query, const char* key) {
  auto it = query.find(key);
  if (it == query.end() || it->second.empty()) return std::nullopt;
  if (it->second.size() > kMaxNameLength) invalid(std::string(key) + " is too long");
  return it->second;
}
}  // namespace

Page parse_page(const std::map<std::string, std::string>& query) {
  for (const auto& [key, value] : query) {
    if (key != "limit" && key != "page_number") invalid("unknown query parameter " + key);
  }
  constexpr std::int64_t kMaxPage = 1'000'000;
  return {positive_int(query, "limit", kDefaultPageSize, kMaxPageSize),
          positive_int(query, "page_number", 1, kMaxPage)};
}

TaskFilter parse_task_filter(const std::map<std::string, std::string>& query) {
  static constexpr std::array<std::string_view, 7> kKeys{
      "agent_id", "agent_name", "status", "creator_user_id", "creator_service_account_id", "limit", "page_number"};
  for (const auto& [key, value] : query) {
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) invalid("unknown query parameter " + key);
  }
  TaskFilter f;
  f.agent_id = query_value(query, "agent_id");
  if (f.agent_id) *f.agent_id = require_uuid(*f.agent_id, "agent_id");
  f.agent_name = query_value(query, "agent_name");
  f.status = query_value(query, "status");
  f.creator_user_id = query_value(query, "creator_user_id");
  f.creator_service_account_id = query_value(query, "creator_service_account_id");
  f.limit = positive_int(query, "limit", kDefaultPageSize, kMaxPageSize);
  constexpr std::int64_t kMaxPage = 1'000'000;
  f.page_number = positive_int(query, "page_number", 1, kMaxPage);
  return f;
}

std::string require_uuid(std::string_view text, std::string_view what) {
  if (!is_uuid(text)) invalid(std::string(what) + " must be a UUID");
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace fgac::api
