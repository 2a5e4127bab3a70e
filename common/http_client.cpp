#include "common/http_client.hpp"

#include <stdexcept>

namespace fgac {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

UpstreamUrl parse_upstream_url(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) throw std::invalid_argument("URL must start with http:// : " + url);
  std::string rest = url.substr(kScheme.size());
  UpstreamUrl out;
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out.base_path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
  auto colon = authority.rfind(':');
  if (colon == std::string::npos) {
    out.host = authority;
    out.port = "80";
  } else {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
  }
  if (out.host.empty()) throw std::invalid_argument("URL has no host: " + url);
  if (out.port.empty() || out.port.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument("URL has an invalid port: " + url);
  return out;
}

HttpClient::HttpClient(asio::any_io_executor executor, HttpClientSettings settings)
    : executor_(std::move(executor)),
      settings_(std::move(settings)),
      upstream_(parse_upstream_url(settings_.base_url)) {}

std::unique_ptr<beast::tcp_stream> HttpClient::take_idle() {
  std::lock_guard lock(mutex_);
  if (idle_.empty()) return nullptr;
  auto stream = std::move(idle_.back());
  idle_.pop_back();
  return stream;
}

void HttpClient::give_back(std::unique_ptr<beast::tcp_stream> stream) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < settings_.max_idle_connections) idle_.push_back(std::move(stream));
}

asio::awaitable<std::unique_ptr<beast::tcp_stream>> HttpClient::connect(
    std::chrono::steady_clock::time_point deadline) {
  tcp::resolver resolver(co_await asio::this_coro::executor);
  auto results = co_await resolver.async_resolve(upstream_.host, upstream_.port, asio::use_awaitable);
  auto stream = std::make_unique<beast::tcp_stream>(co_await asio::this_coro::executor);
  const auto connect_deadline = std::min(deadline, std::chrono::steady_clock::now() + settings_.connect_timeout);
  stream->expires_at(connect_deadline);
  co_await stream->async_connect(results, asio::use_awaitable);
  stream->socket().set_option(tcp::no_delay(true));
  co_return stream;
}

asio::awaitable<HttpClientResponse> HttpClient::post_json(std::string path, std::string body, HeaderList headers,
                                                          std::optional<std::chrono::milliseconds> timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout.value_or(settings_.request_timeout);
  http::request<http::string_body> req{http::verb::post, upstream_.base_path + path, 11};
  req.set(http::field::host, upstream_.host);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::user_agent, "fgac-tasks");
  for (auto& [name, value] : headers) req.set(name, value);
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();

  // A pooled connection may have been closed by the server while idle; then
  // the request is sent once more on a fresh connection (every call here is idempotent).
  for (int attempt = 0;; ++attempt) {
    auto stream = attempt == 0 ? take_idle() : nullptr;
    const bool reused = stream != nullptr;
    if (!stream) stream = co_await connect(deadline);

    beast::error_code ec;
    stream->expires_at(deadline);
    co_await http::async_write(*stream, req, asio::redirect_error(asio::use_awaitable, ec));
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(settings_.max_response_bytes);
    if (!ec) co_await http::async_read(*stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      const bool stale = reused && !parser.got_some() && ec != beast::error::timeout;
      if (stale) continue;
      throw boost::system::system_error(ec);
    }
    auto res = parser.release();
    HttpClientResponse out{res.result_int(), std::move(res.body())};
    if (res.keep_alive()) {
      stream->expires_never();
      give_back(std::move(stream));
    }
    co_return out;
  }
}

}  // namespace fgac
