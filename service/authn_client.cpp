#include "service/authn_client.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "common/digest.hpp"
#include "common/log.hpp"
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

const char* unforwardable_header(std::string_view lower_name) {
  static constexpr std::array<std::string_view, 13> kHopByHop{"connection",
                                                              "keep-alive",
                                                              "proxy-connection",
                                                              "te",
                                                              "trailer",
                                                              "transfer-encoding",
                                                              "upgrade",
                                                              "host",
                                                              "content-length",
                                                              "content-type",
                                                              "expect",
                                                              "proxy-authenticate",
                                                              "proxy-authorization"};
  if (std::find(kHopByHop.begin(), kHopByHop.end(), lower_name) != kHopByHop.end())
    return "is a hop-by-hop or framing header";
  if (lower_name == kPodTokenHeader) return "carries this service's own identity and is never taken from a client";
  return nullptr;
}

AuthnVerdict authn_verdict(unsigned status, bool service_account_auth_error) {
  // The provider rejected our own identity, not the caller's: not the caller's fault.
  if (service_account_auth_error) return AuthnVerdict::unavailable;
  if (status == 200) return AuthnVerdict::principal;
  if (status == 401 || status == 403) return AuthnVerdict::unauthenticated;
  // 3xx, 429, 5xx and anything unexpected: the credentials were never judged.
  return AuthnVerdict::unavailable;
}

AuthnClient::AuthnClient(AuthnSettings settings)
    : settings_(std::move(settings)),
      client_(HttpClientSettings{.base_url = settings_.url,
                                 .connect_timeout = settings_.timeout,
                                 .request_timeout = settings_.timeout,
                                 .ca_file = settings_.ca_file}),
      cache_(settings_.cache_ttl, settings_.cache_max_entries) {}

boost::asio::awaitable<Principal> AuthnClient::authenticate(const HttpRequest& request) {
  HeaderList headers;
  std::string joined;
  for (const auto& name : settings_.forwarded_headers) {
    // Every value of the header, in order: a second Authorization line must not hide.
    for (auto [it, end] = request.equal_range(name); it != end; ++it) {
      headers.emplace_back(name, std::string(it->value()));
      joined.append(name).append(":").append(it->value()).append("\n");
    }
  }
  // No credential at all: nothing for the provider to judge.
  if (headers.empty()) throw ApiError(ErrorKind::unauthenticated, "not authenticated");
  // The key is a digest: the cache never holds a bearer token in the clear.
  const std::string key = sha256_hex(joined);

  const auto now = std::chrono::steady_clock::now();
  if (auto cached = cache_.get(key, now)) co_return *cached;

  HttpClientResponse res;
  try {
    res = co_await client_.post_json("/v1/authn", "{}", std::move(headers));
  } catch (const std::exception& e) {
    log::warn("authn service unreachable", {{"error", e.what()}});
    throw ApiError(ErrorKind::unavailable, "authentication service unavailable");
  }
  switch (authn_verdict(res.status, res.service_account_auth_error.has_value())) {
    case AuthnVerdict::unauthenticated:
      throw ApiError(ErrorKind::unauthenticated, "not authenticated");
    case AuthnVerdict::unavailable:
      log::warn("authn service failed",
                {{"status", res.status}, {"service_account_auth_error", res.service_account_auth_error.value_or("")}});
      throw ApiError(ErrorKind::unavailable, "authentication service unavailable");
    case AuthnVerdict::principal:
      break;
  }
  auto body = nlohmann::json::parse(res.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    log::warn("authn service answered 200 without a JSON object");
    throw ApiError(ErrorKind::unavailable, "authentication service unavailable");
  }
  Principal principal = parse_principal(body);
  cache_.put(key, principal, now);
  co_return principal;
}

}  // namespace fgac::api
