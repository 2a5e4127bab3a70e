// Authentication through the authn service: the caller's headers go to
// POST {AGENTEX_AUTH_URL}/v1/authn; a 200 JSON object is the principal.
// Answers are cached briefly (TTL, bounded size), never when they carry
// credentials. Nothing the client sends is ever taken as a principal.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/asio.hpp"
#include "common/http_client.hpp"
#include "common/http_server.hpp"
#include "service/principal.hpp"

namespace fgac::api {

struct AuthnSettings {
  std::string url;
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

// Headers that are never forwarded to the authn service (hop-by-hop, or about the body).
bool is_forwarded_header(std::string_view name);

class AuthnClient {
 public:
  AuthnClient(boost::asio::any_io_executor executor, AuthnSettings settings);

  // The caller's principal; throws ApiError(unauthenticated) or ApiError(unavailable).
  boost::asio::awaitable<Principal> authenticate(const HttpRequest& request);

 private:
  AuthnSettings settings_;
  HttpClient client_;
  PrincipalCache cache_;
};

}  // namespace fgac::api
