// Authentication through the authn service: the caller's credential headers
// (an allow-list) go to POST {AGENTEX_AUTH_URL}/v1/authn; a 200 JSON object is
// the principal. Answers are cached briefly (TTL, bounded size) under a digest
// of those headers, never when they carry credentials. Nothing the client
// sends is ever taken as a principal.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/asio.hpp"
#include "common/http_client.hpp"
#include "common/http_server.hpp"
#include "service/principal.hpp"

namespace fgac::api {

// The credential headers agentex's auth-provider contract names (a bearer
// token, an API key, a session cookie) and the account a caller selects,
// which the provider judges. Nothing else reaches authn.
inline const std::vector<std::string> kDefaultForwardedHeaders{"authorization", "x-api-key", "cookie",
                                                               "x-selected-account-id"};
// The agentex proxies' own pod identity toward the provider; a client's copy is never forwarded.
inline constexpr std::string_view kPodTokenHeader = "x-kubernetes-service-account-token";

struct AuthnSettings {
  std::string url;
  std::optional<std::string> ca_file;                                     // https only
  std::vector<std::string> forwarded_headers = kDefaultForwardedHeaders;  // lower-case
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds cache_ttl{5000};
  std::size_t cache_max_entries = 10000;
};

// A bounded TTL cache of principals keyed by a digest of the forwarded headers.
class PrincipalCache {
 public:
  PrincipalCache(std::chrono::milliseconds ttl, std::size_t max_entries) : ttl_(ttl), max_entries_(max_entries) {}
  std::optional<Principal> get(const std::string& key, std::chrono::steady_clock::time_point now);
  void put(const std::string& key, const Principal& principal, std::chrono::steady_clock::time_point now);
  [[nodiscard]] std::size_t size();

 private:
  struct Entry {
    Principal principal;
    std::chrono::steady_clock::time_point expires;
  };
  std::chrono::milliseconds ttl_;
  std::size_t max_entries_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::string> order_;  // insertion order, for eviction
};

// Why a header name may not be forwarded to authn (hop-by-hop, framing, or
// our own pod identity), or nullptr when it may (config validation).
const char* unforwardable_header(std::string_view lower_name);

// What authn's answer means for the caller (pure; one table).
enum class AuthnVerdict { principal, unauthenticated, unavailable };
AuthnVerdict authn_verdict(unsigned status, bool service_account_auth_error);

class AuthnClient {
 public:
  explicit AuthnClient(AuthnSettings settings);

  // The caller's principal; throws ApiError(unauthenticated) or ApiError(unavailable).
  boost::asio::awaitable<Principal> authenticate(const HttpRequest& request);

 private:
  AuthnSettings settings_;
  HttpClient client_;
  PrincipalCache cache_;
};

}  // namespace fgac::api
