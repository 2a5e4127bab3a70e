#include "service/authn_client.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "common/log.hpp"
#include "schema/migration.hpp"
#include "service/api_error.hpp"

namespace fgac::api {

std::optional<Principal> PrincipalCache::get(const std::string& key, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.expires <= now) return std::nullopt;
  return it->second.principal;
}

void PrincipalCache::put(const std::string& key, const Principal& principal,
                         std::chrono::steady_clock::time_point now) {
  if (max_entries_ == 0 || principal.carries_credentials) return;
  std::lock_guard lock(mutex_);
  if (entries_.size() >= max_entries_) {
    // Drop expired entries first, then the oldest, to stay within the bound.
    std::erase_if(entries_, [&](const auto& kv) { return kv.second.expires <= now; });
    std::erase_if(order_, [&](const std::string& k) { return !entries_.contains(k); });
    while (entries_.size() >= max_entries_ && !order_.empty()) {
      entries_.erase(order_.front());
      order_.pop_front();
    }
  }
  auto [it, inserted] = entries_.insert_or_assign(key, Entry{principal, now + ttl_});
  if (inserted) order_.push_back(key);
}

std::size_t PrincipalCache::size() {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

bool is_forwarded_header(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kNotForwarded{
      "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
      "te",         "trailer",    "trailers",           "transfer-encoding",
      "upgrade",    "host",       "content-length",     "content-type"};
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(kNotForwarded.begin(), kNotForwarded.end(), lower) == kNotForwarded.end();
}

AuthnClient::AuthnClient(boost::asio::any_io_executor executor, AuthnSettings settings)
    : settings_(std::move(settings)),
      client_(std::move(executor), HttpClientSettings{settings_.url, settings_.timeout, settings_.timeout}),
      cache_(settings_.cache_ttl, settings_.cache_max_entries) {}

boost::asio::awaitable<Principal> AuthnClient::authenticate(const HttpRequest& request) {
  HeaderList headers;
  std::vector<std::string> key_parts;
  for (const auto& field : request) {
    if (!is_forwarded_header(field.name_string())) continue;
    headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    std::string part(field.name_string());
    std::transform(part.begin(), part.end(), part.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    key_parts.push_back(part + ":" + std::string(field.value()));
  }
  // The key is a digest: the cache never holds a bearer token in the clear.
  std::sort(key_parts.begin(), key_parts.end());
  std::string joined;
  for (const auto& p : key_parts) joined += p + "\n";
  const std::string key = schema::sha256_hex(joined);

  const auto now = std::chrono::steady_clock::now();
  if (auto cached = cache_.get(key, now)) co_return *cached;

  HttpClientResponse res;
  try {
    res = co_await client_.post_json("/v1/authn", "{}", std::move(headers));
  } catch (const std::exception& e) {
    log::warn("authn service unreachable", {{"error", e.what()}});
    throw ApiError(ErrorKind::unavailable, "authentication service unavailable");
  }
  if (res.status != 200) throw ApiError(ErrorKind::unauthenticated, "not authenticated");
  auto body = nlohmann::json::parse(res.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) throw ApiError(ErrorKind::unauthenticated, "not authenticated");
  Principal principal = parse_principal(body);
  cache_.put(key, principal, now);
  co_return principal;
}

}  // namespace fgac::api
