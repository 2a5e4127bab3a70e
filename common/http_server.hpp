// An HTTP/1.1 server on Boost.Beast: asynchronous accept, one strand and one
// coroutine per connection, keep-alive, limits on header and body size, on
// the read buffer, chunk extensions and open connections, deadlines on every
// read and write, and strict request framing (RFC 9112: a Transfer-Encoding
// that does not end in chunked is refused, never guessed at).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>
#include "common/asio.hpp"
#include "common/http_framing.hpp"

namespace fgac {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;
// The handler owns the request's routing; the server owns the transport.
using HttpHandler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&)>;

struct HttpServerSettings {
  std::string name = "http";
  std::string address = "0.0.0.0";
  std::uint16_t port = 0;  // 0 picks a free port (tests)
  std::uint64_t max_body_bytes = std::uint64_t{1024} * 1024;
  std::uint32_t max_header_bytes = 16 * 1024;
  std::size_t max_connections = 1024;
  // The whole header section of every request, from its first byte (or
  // from accept, for a connection's first request): a slow sender is cut off.
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds read_timeout{10000};  // the body, and each write
  std::chrono::milliseconds idle_timeout{60000};  // keep-alive wait for the next request
};

// A JSON error body: {"message": ..., "code": ..., "data": null}.
HttpResponse json_error(http::status status, std::string_view message, unsigned version = 11);
HttpResponse json_response(http::status status, std::string body, unsigned version = 11);

class HttpServer : public std::enable_shared_from_this<HttpServer> {
 public:
  HttpServer(boost::asio::io_context& ioc, HttpServerSettings settings, HttpHandler handler);

  // Binds and listens; throws on failure (port taken, bad address).
  void start();
  // Stops accepting; open connections finish their current request, and
  // connections idling between requests are closed at once.
  void stop_accepting();
  // Completes when every connection has closed, or at `deadline` (then
  // returns the number still open: requests that did not finish in time).
  boost::asio::awaitable<std::size_t> drain(std::chrono::steady_clock::time_point deadline);
  [[nodiscard]] std::uint16_t port() const { return bound_port_; }
  [[nodiscard]] std::size_t open_connections() const { return open_.load(); }
  [[nodiscard]] std::size_t requests_in_flight() const { return in_flight_.load(); }

 private:
  // What stop_accepting needs to close a connection that waits for its next
  // request: touched only on that connection's strand.
  struct IdleWait {
    boost::beast::tcp_stream* stream = nullptr;
    bool waiting = false;
  };

  boost::asio::awaitable<void> accept_loop();
  using RequestParser = http::request_parser<http::string_body>;

  boost::asio::awaitable<void> session(boost::beast::tcp_stream stream);
  std::shared_ptr<IdleWait> track_idle_wait(boost::beast::tcp_stream& stream);
  // False when the connection closed or timed out before a byte of the next request.
  boost::asio::awaitable<bool> wait_for_next_request(boost::beast::tcp_stream& stream,
                                                     boost::beast::flat_buffer& buffer, IdleWait& idle);
  // Reads one request's header and body into `parser`; `ec` reports a read or
  // parse error, the result a request refused for its framing.
  boost::asio::awaitable<std::optional<FramingError>> read_request(boost::beast::tcp_stream& stream,
                                                                   boost::beast::flat_buffer& buffer,
                                                                   RequestParser& parser, boost::beast::error_code& ec);
  boost::asio::awaitable<std::optional<FramingError>> answer_expectation(boost::beast::tcp_stream& stream,
                                                                         RequestParser& parser,
                                                                         boost::beast::error_code& ec);
  // Answers a request that is not served, and the connection then closes.
  boost::asio::awaitable<void> refuse(boost::beast::tcp_stream& stream, const FramingError& refusal);
  // Runs the handler and writes its response; true when the connection stays
  // open for the next request.
  boost::asio::awaitable<bool> respond(boost::beast::tcp_stream& stream, HttpRequest& req);
  void close_idle_connections();

  boost::asio::io_context& ioc_;
  HttpServerSettings settings_;
  HttpHandler handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t bound_port_ = 0;
  std::atomic<std::size_t> open_{0};
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<bool> accepting_{false};
  std::mutex sessions_mutex_;
  std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<IdleWait>>> sessions_;
};

}  // namespace fgac
