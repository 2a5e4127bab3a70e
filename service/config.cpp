#include "service/config.hpp"

#include <algorithm>
#include <cctype>

namespace fgac::api {
namespace {

// "Authorization, X-Api-Key" → {"authorization", "x-api-key"}; refuses names
// that must never be forwarded.
std::vector<std::string> parse_forwarded_headers(const std::string& list, EnvReader& r) {
  std::vector<std::string> out;
  std::string_view rest = list;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string name(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    std::erase_if(name, [](unsigned char c) { return std::isspace(c) != 0; });
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (name.empty()) continue;
    if (const char* why = unforwardable_header(name)) {
      r.fail("AUTHN_FORWARD_HEADERS: " + name + " " + why);
    } else if (std::find(out.begin(), out.end(), name) == out.end()) {
      out.push_back(std::move(name));
    }
  }
  if (out.empty()) r.fail("AUTHN_FORWARD_HEADERS names no header");
  return out;
}

// A variable with a fixed set of values: its parsed value, or a failure naming the choices.
template <class T>
T one_of(EnvReader& r, const char* name, const char* fallback, std::optional<T> (*parse)(std::string_view),
         const char* choices, const char* doc) {
  const auto text = r.str(name, fallback, doc);
  if (auto value = parse(text)) return *value;
  r.fail(std::string(name) + "=" + text + " must be " + choices);
  return *parse(fallback);
}

// The API's listener, its monitor, body and JSON limits and shutdown grace.
void read_http(EnvReader& r, ApiConfig& c) {
  using std::chrono::milliseconds;
  c.http.name = "api";
  c.http.address = r.str("API_ADDR", "0.0.0.0", "listen address");
  c.http.port = r.port("API_PORT", 8080, "listen port");
  c.http.max_body_bytes = static_cast<std::uint64_t>(
      r.integer("API_MAX_BODY_BYTES", std::int64_t{1024} * 1024, 1024, std::int64_t{64} * 1024 * 1024, "body limit"));
  c.http.max_header_bytes = static_cast<std::uint32_t>(r.integer("API_MAX_HEADER_BYTES", std::int64_t{16} * 1024, 1024,
                                                                 std::int64_t{1024} * 1024, "header section limit"));
  c.http.max_connections =
      static_cast<std::size_t>(r.integer("API_MAX_CONNECTIONS", 1024, 1, 100000, "open connections"));
  c.http.header_timeout = r.millis("API_HEADER_TIMEOUT_MS", milliseconds(10000), milliseconds(100),
                                   milliseconds(600000), "deadline for every request's header section");
  c.http.read_timeout = r.millis("API_READ_TIMEOUT_MS", milliseconds(10000), milliseconds(100), milliseconds(600000),
                                 "deadline for a body, and for each response write");
  c.http.idle_timeout = r.millis("API_IDLE_TIMEOUT_MS", milliseconds(60000), milliseconds(100), milliseconds(3600000),
                                 "keep-alive idle time");
  c.max_json_depth = static_cast<std::size_t>(r.integer("API_MAX_JSON_DEPTH", 64, 2, 1000, "deepest JSON nesting"));
  c.shutdown_grace = r.millis("API_SHUTDOWN_GRACE_MS", milliseconds(10000), milliseconds(0), milliseconds(600000),
                              "on SIGTERM: how long in-flight requests may take to finish");

  c.monitor.name = "monitor";
  c.monitor.address = r.str("MONITOR_ADDR", "0.0.0.0", "monitor listen address");
  c.monitor.port = r.port("API_MONITOR_PORT", 8081, "monitor port: /healthz, /readyz, /metrics");
  c.monitor.max_connections = 64;
}

// AGENTEX_AUTH_URL and the authn call (unset with AUTH_DISABLED=true).
void read_authn(EnvReader& r, bool auth_disabled, ApiConfig& c) {
  using std::chrono::milliseconds;
  const auto auth_url = r.optional_str("AGENTEX_AUTH_URL", "base URL of the authn/authz service");
  // Read whether or not authn is on, so that each is a known variable either way.
  AuthnSettings a;
  a.timeout =
      r.millis("AUTHN_TIMEOUT_MS", milliseconds(2000), milliseconds(10), milliseconds(60000), "deadline for /v1/authn");
  a.cache_ttl =
      r.millis("AUTHN_CACHE_TTL_MS", milliseconds(5000), milliseconds(0), milliseconds(3600000), "principal cache TTL");
  a.cache_max_entries =
      static_cast<std::size_t>(r.integer("AUTHN_CACHE_MAX_ENTRIES", 10000, 0, 10000000, "principal cache entries"));
  a.ca_file = r.optional_str("AGENTEX_AUTH_CA_FILE", "PEM bundle for an https:// authn/authz service");
  if (auto list = r.optional_str("AUTHN_FORWARD_HEADERS", "the only request headers sent to /v1/authn")) {
    a.forwarded_headers = parse_forwarded_headers(*list, r);
  }
  if (auth_url) {
    a.url = *auth_url;
    try {
      (void)HttpClient(HttpClientSettings{.base_url = a.url, .ca_file = a.ca_file});
    } catch (const std::exception& e) {
      r.fail(std::string("AGENTEX_AUTH_URL: ") + e.what());
    }
    if (auth_disabled) r.fail("AGENTEX_AUTH_URL and AUTH_DISABLED=true are both set; choose one");
    c.authn = a;
  } else if (!auth_disabled) {
    r.fail("AGENTEX_AUTH_URL is required (set AUTH_DISABLED=true only for development)");
  }
}

// FGAC_TASKS_ENFORCE and what it needs: the check client, list mode, shadow bound.
void read_enforcement(EnvReader& r, bool auth_disabled, ApiConfig& c) {
  using std::chrono::milliseconds;
  c.enforce = one_of(r, "FGAC_TASKS_ENFORCE", "off", parse_enforce_mode, "off, shadow or enforce",
                     "per-task authorization: off (no checks), shadow (decide, count, deny nothing), enforce");
  if (c.enforce != EnforceMode::off && auth_disabled) {
    r.fail("FGAC_TASKS_ENFORCE=" + std::string(mode_name(c.enforce)) +
           " needs a caller: it cannot run with AUTH_DISABLED=true");
  }
  c.list_mode = one_of(r, "FGAC_TASKS_LIST_MODE", "creator", parse_list_mode, "creator or lookup",
                       "enforce: lists by the creator column, or lookup (LookupResources + own pending)");
  c.list_lookup_limit = static_cast<int>(r.integer("API_LIST_LOOKUP_LIMIT", 1000, 1, 1000,
                                                   "lookup list mode: most task ids one lookup answers (more: 503)"));
  c.checker.reads = one_of(r, "FGAC_TASKS_READ_CONSISTENCY", "at_least_as_fresh", parse_read_consistency,
                           "at_least_as_fresh or fully_consistent",
                           "reads checked at least as fresh as the task's register, or fully consistent");
  c.checker.timeout = r.millis("API_AUTHZ_CHECK_TIMEOUT_MS", milliseconds(1000), milliseconds(10), milliseconds(60000),
                               "deadline for one /v1/authz/check (then 503, fail closed)");
  c.checker.service_token =
      r.optional_str("AUTHZ_SERVICE_TOKEN", "sent as Authorization: Bearer; never logged or stored");
  c.shadow_max_in_flight = static_cast<std::size_t>(
      r.integer("API_SHADOW_MAX_IN_FLIGHT", 32, 1, 100000, "shadow decisions computed at once; more are dropped"));
}

}  // namespace

ApiConfig load_api_config(const EnvSource& env, std::vector<EnvVar>* declared) {
  using std::chrono::milliseconds;
  EnvReader r(env);
  ApiConfig c;
  c.database.url = r.required_str("DATABASE_URL", "libpq URI");
  c.database.pool_size = static_cast<std::size_t>(
      r.integer("API_DB_POOL_SIZE", 8, 1, 256, "database connections (and the threads that use them)"));
  c.database.application_name = "task-api";
  c.database.statements = read_statement_mode(r);
  c.database.queue_timeout = r.millis("API_DB_QUEUE_TIMEOUT_MS", milliseconds(2000), milliseconds(10),
                                      milliseconds(600000), "longest a request waits for a database connection");

  read_http(r, c);

  c.dual_write = r.boolean("FGAC_TASKS_DUAL_WRITE", false, "write outbox rows on create and delete");
  const bool auth_disabled = r.boolean("AUTH_DISABLED", false, "development only: no authn, no principal");
  read_authn(r, auth_disabled, c);
  read_enforcement(r, auth_disabled, c);

  try {
    c.log_level = log::parse_level(r.str("LOG_LEVEL", "info", "debug, info, warn or error"));
  } catch (const std::exception& e) {
    r.fail(std::string("LOG_LEVEL: ") + e.what());
  }
  r.reject_unknown(kApiOwnedPrefixes);
  if (declared) *declared = r.declared();
  r.finish();
  return c;
}

}  // namespace fgac::api
