// What the official agentex Python client (scaleapi/scale-agentex-python)
// puts on the wire, for tests that drive the API as its callers do: its
// headers (_base_client.py), its query encoding (None dropped, arrays
// comma-joined, values quote_plus-encoded as httpx does) and its bodies.
#pragma once

#include <cctype>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/services.hpp"

namespace fgac::testing {

// A query argument; unset means the caller omitted it (the client sends nothing).
using Arg = std::pair<std::string, std::optional<std::string>>;

// Python's urllib.parse.quote_plus, which httpx applies to query values.
inline std::string quote_plus(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

// What the generated client puts on the wire (its _base_client.py and _client.py).
class AgentexClient {
 public:
  // Sends one request (the Authorization header is the transport's to add).
  using Send = std::function<HttpResult(const std::string& method, const std::string& target, const std::string& body,
                                        const std::map<std::string, std::string>& headers)>;
  explicit AgentexClient(Send send) : send_(std::move(send)) {}

  HttpResult get(const std::string& path, const std::vector<Arg>& query = {}) {
    return send("GET", path + encode(query), "");
  }
  HttpResult post(const std::string& path, const nlohmann::json& body) { return send("POST", path, body.dump()); }
  HttpResult put(const std::string& path, const nlohmann::json& body) { return send("PUT", path, body.dump()); }
  HttpResult del(const std::string& path) { return send("DELETE", path, ""); }

  // agents.rpc / rpc_by_name: only method and params unless id or jsonrpc are given (Omit).
  HttpResult rpc(const std::string& agent_path, const std::string& method, const nlohmann::json& params) {
    return post(agent_path + "/rpc", {{"method", method}, {"params", params}});
  }

  // Arrays are comma-joined under one key (array_format="comma"); lists come as "a,b".
  static std::string encode(const std::vector<Arg>& query) {
    std::string out;
    for (const auto& [key, value] : query) {
      if (!value) continue;  // None and omitted arguments are dropped, never sent empty
      out += (out.empty() ? "?" : "&") + quote_plus(key) + "=" + quote_plus(*value);
    }
    return out;
  }

 private:
  HttpResult send(const std::string& method, const std::string& target, const std::string& body) {
    std::map<std::string, std::string> headers{
        {"Accept", "application/json"},      {"User-Agent", "Agentex/Python 0.4.0"},
        {"X-Stainless-Lang", "python"},      {"X-Stainless-Package-Version", "0.4.0"},
        {"X-Stainless-OS", "Linux"},         {"X-Stainless-Arch", "x64"},
        {"X-Stainless-Runtime", "CPython"},  {"X-Stainless-Runtime-Version", "3.12.3"},
        {"X-Stainless-Async", "false"},      {"x-stainless-retry-count", "0"},
        {"x-stainless-read-timeout", "300"},
    };
    // The client removes Content-Type on GET (and sends it on every other method).
    if (method != "GET") headers["Content-Type"] = "application/json";
    return send_(method, target, body, headers);
  }

  Send send_;
};

}  // namespace fgac::testing
