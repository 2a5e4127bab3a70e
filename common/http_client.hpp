// A keep-alive HTTP/1.1 client for one upstream (the authn/authz service),
// with deadlines on connect, write and read and a bounded pool of idle
// connections. Safe to share across strands.
#pragma once

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
  std::string host;
  std::string port;
  std::string base_path;  // no trailing slash
};

// Parses http://host[:port][/base]; throws std::invalid_argument (https is not supported here).
UpstreamUrl parse_upstream_url(const std::string& url);

struct HttpClientSettings {
  std::string base_url;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds request_timeout{10000};
  std::size_t max_idle_connections = 64;
  std::uint64_t max_response_bytes = std::uint64_t{1024} * 1024;
};

struct HttpClientResponse {
  unsigned status = 0;
  std::string body;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  HttpClient(boost::asio::any_io_executor executor, HttpClientSettings settings);

  // POSTs a JSON body to base_path + path. Transport failures and timeouts
  // throw boost::system::system_error; any HTTP status is returned.
  boost::asio::awaitable<HttpClientResponse> post_json(std::string path, std::string body, HeaderList headers,
                                                       std::optional<std::chrono::milliseconds> timeout = {});

  [[nodiscard]] const HttpClientSettings& settings() const { return settings_; }

 private:
  boost::asio::awaitable<std::unique_ptr<boost::beast::tcp_stream>> connect(
      std::chrono::steady_clock::time_point deadline);
  std::unique_ptr<boost::beast::tcp_stream> take_idle();
  void give_back(std::unique_ptr<boost::beast::tcp_stream> stream);

  boost::asio::any_io_executor executor_;
  HttpClientSettings settings_;
  UpstreamUrl upstream_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<boost::beast::tcp_stream>> idle_;
};

}  // namespace fgac
