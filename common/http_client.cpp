#include "common/http_client.hpp"

#include <openssl/ssl.h>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <stdexcept>

namespace fgac {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// A response's header section is small; anything larger is a broken or hostile upstream.
constexpr std::uint32_t kMaxResponseHeaderBytes = std::uint32_t{16} * 1024;
// 100 Continue and 103 Early Hints may precede the answer; more than a few is abuse.
constexpr int kMaxInterimResponses = 4;
// Reads never buffer more than this beyond the body itself.
constexpr std::size_t kMaxReadBuffer = std::size_t{64} * 1024;

}  // namespace

struct HttpClient::Connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer{kMaxReadBuffer};

  beast::tcp_stream& transport() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  // Bytes the server sent that nobody asked for (or a close it announced):
  // such a connection must never carry another request.
  bool has_unread_bytes() {
    beast::error_code ec;
    const auto available = transport().socket().available(ec);
    return ec || available > 0 || buffer.size() > 0 || (tls && SSL_pending(tls->native_handle()) > 0);
  }
};

UpstreamUrl parse_upstream_url(const std::string& url) {
  UpstreamUrl out;
  std::string rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    out.tls = true;
    rest = url.substr(8);
  } else {
    throw std::invalid_argument("URL must start with http:// or https:// : " + url);
  }
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out.base_path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
  if (authority.find('@') != std::string::npos) throw std::invalid_argument("URL must not carry credentials: " + url);
  auto colon = authority.rfind(':');
  if (colon == std::string::npos) {
    out.host = authority;
    out.port = out.tls ? "443" : "80";
  } else {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
  }
  if (out.host.empty()) throw std::invalid_argument("URL has no host: " + url);
  if (out.port.empty() || out.port.size() > 5 || out.port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(out.port) < 1 || std::stoi(out.port) > 65535)
    throw std::invalid_argument("URL has an invalid port: " + url);
  return out;
}

HttpClient::HttpClient(HttpClientSettings settings)
    : settings_(std::move(settings)), upstream_(parse_upstream_url(settings_.base_url)) {
  if (settings_.ca_file && !upstream_.tls)
    throw std::invalid_argument("a CA file is set but the URL is not https: " + settings_.base_url);
  if (!upstream_.tls) return;
  tls_ = std::make_unique<ssl::context>(ssl::context::tls_client);
  tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  tls_->set_verify_mode(ssl::verify_peer);
  beast::error_code ec;
  if (settings_.ca_file) {
    tls_->load_verify_file(*settings_.ca_file, ec);
    if (ec) throw std::invalid_argument("cannot read CA file " + *settings_.ca_file + ": " + ec.message());
  } else {
    tls_->set_default_verify_paths(ec);
    if (ec) throw std::invalid_argument("cannot load the system's CA store: " + ec.message());
  }
}

HttpClient::~HttpClient() = default;

std::size_t HttpClient::idle_connections() {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

std::unique_ptr<HttpClient::Connection> HttpClient::take_idle() {
  std::lock_guard lock(mutex_);
  while (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    // A server that closed or wrote while the connection sat idle: drop it.
    if (!conn->has_unread_bytes()) return conn;
  }
  return nullptr;
}

void HttpClient::give_back(std::unique_ptr<Connection> conn) {
  if (conn->has_unread_bytes()) return;
  conn->transport().expires_never();
  std::lock_guard lock(mutex_);
  if (idle_.size() < settings_.max_idle_connections) idle_.push_back(std::move(conn));
}

asio::awaitable<std::unique_ptr<HttpClient::Connection>> HttpClient::connect(
    std::chrono::steady_clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  const auto connect_deadline = std::min(deadline, std::chrono::steady_clock::now() + settings_.connect_timeout);

  // Name resolution runs inside the same deadline: a resolver has none of its own.
  tcp::resolver resolver(executor);
  asio::steady_timer resolve_timer(executor, connect_deadline);
  bool timed_out = false;
  resolve_timer.async_wait([&resolver, &timed_out](const beast::error_code& ec) {
    if (ec) return;
    timed_out = true;
    resolver.cancel();
  });
  beast::error_code ec;
  auto results =
      co_await resolver.async_resolve(upstream_.host, upstream_.port, asio::redirect_error(asio::use_awaitable, ec));
  resolve_timer.cancel();
  if (timed_out) throw boost::system::system_error(beast::error::timeout);
  if (ec) throw boost::system::system_error(ec);

  auto conn = std::make_unique<Connection>();
  if (upstream_.tls) {
    conn->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(executor, *tls_);
  } else {
    conn->plain = std::make_unique<beast::tcp_stream>(executor);
  }
  auto& transport = conn->transport();
  transport.expires_at(connect_deadline);
  co_await transport.async_connect(results, asio::use_awaitable);
  transport.socket().set_option(tcp::no_delay(true));
  if (conn->tls) {
    // SNI, and the certificate must name the host we asked for.
    // SSL_set_tlsext_host_name, spelled out: the macro casts in C style.
    if (SSL_ctrl(conn->tls->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(upstream_.host.c_str())) != 1) {
      throw boost::system::system_error(
          beast::error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()));
    }
    conn->tls->set_verify_callback(ssl::host_name_verification(upstream_.host));
    transport.expires_at(deadline);
    co_await conn->tls->async_handshake(ssl::stream_base::client, asio::use_awaitable);
  }
  co_return conn;
}

namespace {

// Writes the request and reads its final response, skipping interim (1xx)
// answers. `reusable` is set only when the exchange left the stream clean.
template <class Stream>
asio::awaitable<HttpClientResponse> exchange(Stream& stream, beast::flat_buffer& buffer,
                                             const http::request<http::string_body>& req, std::uint64_t max_body_bytes,
                                             bool& got_some, bool& reusable) {
  reusable = false;
  got_some = false;
  co_await http::async_write(stream, req, asio::use_awaitable);
  for (int interim = 0;; ++interim) {
    http::response_parser<http::string_body> parser;
    parser.header_limit(kMaxResponseHeaderBytes);
    parser.body_limit(max_body_bytes);
    beast::error_code ec;
    co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    got_some = got_some || parser.got_some();
    if (ec) throw boost::system::system_error(ec);
    const unsigned status = parser.get().result_int();
    if (status == 101) throw boost::system::system_error(http::error::bad_status);  // we never asked to upgrade
    if (status / 100 == 1) {
      if (interim >= kMaxInterimResponses) throw boost::system::system_error(http::error::bad_status);
      continue;  // 100 Continue, 103 Early Hints: the answer is still to come
    }
    if (!parser.is_done()) co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
    auto res = parser.release();
    HttpClientResponse out{res.result_int(), std::move(res.body()), std::nullopt};
    if (auto it = res.find("X-Service-Account-Auth-Error"); it != res.end()) {
      out.service_account_auth_error = std::string(it->value());
    }
    reusable = !res.need_eof();  // keep-alive, and framed by length or chunks
    co_return out;
  }
}

}  // namespace

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
    auto conn = attempt == 0 ? take_idle() : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) conn = co_await connect(deadline);
    conn->transport().expires_at(deadline);
    bool got_some = false;
    bool reusable = false;
    try {
      // An if, not ?: — GCC 12 miscompiles co_await inside a conditional expression.
      HttpClientResponse res;
      if (conn->tls) {
        res = co_await exchange(*conn->tls, conn->buffer, req, settings_.max_response_bytes, got_some, reusable);
      } else {
        res = co_await exchange(*conn->plain, conn->buffer, req, settings_.max_response_bytes, got_some, reusable);
      }
      if (reusable) give_back(std::move(conn));
      co_return res;
    } catch (const boost::system::system_error& e) {
      const bool stale = reused && !got_some && e.code() != beast::error::timeout;
      if (!stale) throw;
    }
  }
}

}  // namespace fgac
