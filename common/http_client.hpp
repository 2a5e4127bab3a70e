// A keep-alive HTTP/1.1 client for one upstream (the authn/authz service),
// over plain TCP or TLS, with one deadline covering resolve, connect,
// handshake, write and read, and a bounded pool of idle connections.
// Safe to share across strands.
//
// A connection goes back to the pool only when its response was read whole,
// the server allows keep-alive and no byte is left over: a stray byte would
// otherwise become the next caller's answer.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/noncopyable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include "common/asio.hpp"

namespace fgac {

struct UpstreamUrl {
  bool tls = false;
  std::string host;
  std::string port;
  std::string base_path;  // no trailing slash
};

// Parses http[s]://host[:port][/base]; throws std::invalid_argument.
UpstreamUrl parse_upstream_url(const std::string& url);

struct HttpClientSettings {
  std::string base_url;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds request_timeout{10000};
  std::size_t max_idle_connections = 64;
  std::uint64_t max_response_bytes = std::uint64_t{1024} * 1024;
  // https only: PEM bundle to verify the server against; unset = the system store.
  std::optional<std::string> ca_file;
};

struct HttpClientResponse {
  unsigned status = 0;
  std::string body;
  // Set when the service rejected our own (pod) identity rather than the
  // caller's: the agentex auth-provider contract's X-Service-Account-Auth-Error.
  std::optional<std::string> service_account_auth_error;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class HttpClient : boost::noncopyable {
 public:
  // Throws std::invalid_argument on a bad URL and on an unreadable CA file.
  explicit HttpClient(HttpClientSettings settings);
  ~HttpClient();

  // POSTs a JSON body to base_path + path. Transport failures and timeouts
  // throw boost::system::system_error; any final HTTP status is returned.
  boost::asio::awaitable<HttpClientResponse> post_json(std::string path, std::string body, HeaderList headers,
                                                       std::optional<std::chrono::milliseconds> timeout = {});

  [[nodiscard]] const HttpClientSettings& settings() const { return settings_; }
  [[nodiscard]] std::size_t idle_connections();

  struct Connection;

 private:
  boost::asio::awaitable<std::unique_ptr<Connection>> connect(std::chrono::steady_clock::time_point deadline);
  std::unique_ptr<Connection> take_idle();
  void give_back(std::unique_ptr<Connection> conn);

  HttpClientSettings settings_;
  UpstreamUrl upstream_;
  std::unique_ptr<boost::asio::ssl::context> tls_;  // https only
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace fgac
