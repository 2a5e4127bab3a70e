#include "common/http_server.hpp"

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/log.hpp"

namespace fgac {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

// Room in a connection's read buffer beyond the header limit (for pipelined
// bytes and body bytes in transit; a body itself goes straight to its string).
constexpr std::size_t kReadBufferSlack = std::size_t{16} * 1024;
constexpr std::size_t kFirstReadBytes = 4096;
constexpr std::size_t kMaxChunkExtensionBytes = 1024;
constexpr auto kAcceptPauseOnExhaustion = std::chrono::milliseconds(100);
constexpr auto kDrainPoll = std::chrono::milliseconds(20);

}  // namespace

HttpResponse json_response(http::status status, std::string body, unsigned version) {
  HttpResponse res{status, version};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

HttpResponse json_error(http::status status, std::string_view message, unsigned version) {
  nlohmann::json body{{"message", message}, {"code", static_cast<int>(status)}, {"data", nullptr}};
  // Messages may echo client input: never throw on invalid UTF-8.
  return json_response(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), version);
}

HttpServer::HttpServer(asio::io_context& ioc, HttpServerSettings settings, HttpHandler handler)
    : ioc_(ioc), settings_(std::move(settings)), handler_(std::move(handler)), acceptor_(ioc) {}

void HttpServer::start() {
  tcp::endpoint endpoint{asio::ip::make_address(settings_.address), settings_.port};
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  bound_port_ = acceptor_.local_endpoint().port();
  accepting_ = true;
  asio::co_spawn(
      ioc_, [self = shared_from_this()] { return self->accept_loop(); }, asio::detached);
  log::info("listening", {{"server", settings_.name}, {"address", settings_.address}, {"port", bound_port_}});
}

void HttpServer::stop_accepting() {
  if (!accepting_.exchange(false)) return;
  asio::post(ioc_, [self = shared_from_this()] {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
  });
  close_idle_connections();
}

void HttpServer::close_idle_connections() {
  std::lock_guard lock(sessions_mutex_);
  for (auto& [executor, weak] : sessions_) {
    // On the connection's own strand: close it only if it is still between requests.
    asio::post(executor, [weak = weak] {
      if (auto idle = weak.lock(); idle && idle->waiting) idle->stream->cancel();
    });
  }
}

asio::awaitable<std::size_t> HttpServer::drain(std::chrono::steady_clock::time_point deadline) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (open_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(kDrainPoll);
    co_await timer.async_wait(asio::use_awaitable);
  }
  co_return open_.load();
}

asio::awaitable<void> HttpServer::accept_loop() {
  asio::steady_timer pause(ioc_);
  while (accepting_) {
    beast::error_code ec;
    tcp::socket socket =
        co_await acceptor_.async_accept(asio::make_strand(ioc_), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!accepting_ || ec == asio::error::operation_aborted) break;
      log::warn("accept failed", {{"server", settings_.name}, {"error", ec.message()}});
      // Out of file descriptors: accepting again at once would spin on the
      // same error; give open connections a moment to close.
      if (ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
          ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
        pause.expires_after(kAcceptPauseOnExhaustion);
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      continue;
    }
    if (open_.load() >= settings_.max_connections) {
      // Over the cap: refuse quickly rather than queue unbounded sockets.
      socket.close(ec);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    open_.fetch_add(1);
    auto executor = socket.get_executor();
    asio::co_spawn(
        executor,
        [self = shared_from_this(), s = beast::tcp_stream(std::move(socket))]() mutable {
          return self->session(std::move(s));
        },
        asio::detached);
  }
}

namespace {

http::status status_for_read_error(const beast::error_code& ec) {
  if (ec == http::error::body_limit) return http::status::payload_too_large;
  if (ec == http::error::header_limit) return http::status::request_header_fields_too_large;
  if (ec == beast::error::timeout) return http::status::request_timeout;
  return http::status::bad_request;
}

std::string_view message_for(http::status status, const beast::error_code& ec) {
  switch (status) {
    case http::status::payload_too_large:
      return "request body too large";
    case http::status::request_header_fields_too_large:
      return "request headers too large";
    case http::status::request_timeout:
      return "request not received in time";
    default:
      break;
  }
  if (ec == http::error::buffer_overflow) return "request framing too large (chunk line, extension or trailer)";
  if (ec == http::error::bad_chunk_extension) return "chunk extension too large or malformed";
  return "malformed HTTP request";
}

bool is_disconnect(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted || ec == asio::error::broken_pipe;
}

std::size_t field_count(const http::fields& fields) {
  return static_cast<std::size_t>(std::distance(fields.begin(), fields.end()));
}

// Writes a response; a HEAD request gets the header only (its Content-Length
// still tells the size a GET would have had).
template <class Stream>
asio::awaitable<void> write_response(Stream& stream, HttpResponse& res, bool head_only, beast::error_code& ec) {
  http::response_serializer<http::string_body> serializer{res};
  if (head_only) {
    co_await http::async_write_header(stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await http::async_write(stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
  }
}

// Limits that bound what one request may make the server buffer.
void limit_request(http::request_parser<http::string_body>& parser, const HttpServerSettings& settings) {
  parser.header_limit(settings.max_header_bytes);
  parser.body_limit(settings.max_body_bytes);
  // Static: the parser keeps a reference to its callback, not a copy.
  static auto on_chunk = [](std::uint64_t, std::string_view extensions, beast::error_code& ec) {
    if (extensions.size() > kMaxChunkExtensionBytes) ec = http::error::bad_chunk_extension;
  };
  parser.on_chunk_header(on_chunk);
}

// The error response to a request that could not be read whole.
FramingError refusal_for_read_error(const beast::error_code& ec) {
  const auto status = status_for_read_error(ec);
  return FramingError{status, message_for(status, ec)};
}

}  // namespace

asio::awaitable<void> HttpServer::session(beast::tcp_stream stream) {
  const auto idle = track_idle_wait(stream);
  struct OpenGuard {
    std::atomic<std::size_t>& count;
    ~OpenGuard() { count.fetch_sub(1); }
  } guard{open_};

  // Bounded: a chunk-size line, a chunk extension or a trailer section that
  // does not fit is refused instead of buffered whole.
  beast::flat_buffer buffer(settings_.max_header_bytes + kReadBufferSlack);
  bool first = true;
  for (;;) {
    if (!first && buffer.size() == 0) {
      if (!accepting_) break;  // shutting down: no next request
      const bool next_request_started = co_await wait_for_next_request(stream, buffer, *idle);
      if (!next_request_started) break;
    }
    RequestParser parser;
    limit_request(parser, settings_);
    beast::error_code ec;
    const auto refused = co_await read_request(stream, buffer, parser, ec);
    if (ec && is_disconnect(ec)) break;
    if (ec && ec == beast::error::timeout && buffer.size() == 0 && !parser.got_some()) break;  // idle
    if (ec || refused) {
      const FramingError refusal = refused ? *refused : refusal_for_read_error(ec);
      co_await refuse(stream, refusal);
      break;
    }
    first = false;

    HttpRequest req = parser.release();
    const bool keep_open = co_await respond(stream, req);
    if (!keep_open) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
}

std::shared_ptr<HttpServer::IdleWait> HttpServer::track_idle_wait(beast::tcp_stream& stream) {
  auto idle = std::make_shared<IdleWait>(IdleWait{&stream, false});
  std::lock_guard lock(sessions_mutex_);
  std::erase_if(sessions_, [](const auto& entry) { return entry.second.expired(); });
  sessions_.emplace_back(stream.get_executor(), idle);
  return idle;
}

// Between requests a keep-alive connection may idle; once a request's first
// byte is here, its whole header must follow within header_timeout.
asio::awaitable<bool> HttpServer::wait_for_next_request(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                                        IdleWait& idle) {
  beast::error_code ec;
  stream.expires_after(settings_.idle_timeout);
  idle.waiting = true;
  const auto n = co_await stream.async_read_some(buffer.prepare(std::min(kFirstReadBytes, buffer.max_size())),
                                                 asio::redirect_error(asio::use_awaitable, ec));
  idle.waiting = false;
  buffer.commit(n);
  co_return !ec;  // an error is the idle timeout, the client leaving or shutdown: close quietly
}

asio::awaitable<std::optional<FramingError>> HttpServer::read_request(beast::tcp_stream& stream,
                                                                      beast::flat_buffer& buffer, RequestParser& parser,
                                                                      beast::error_code& ec) {
  stream.expires_after(settings_.header_timeout);
  co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return std::nullopt;
  std::optional<FramingError> refused = framing_error(parser.get());
  if (!refused) refused = co_await answer_expectation(stream, parser, ec);
  const std::size_t header_fields = ec ? 0 : field_count(parser.get());
  if (!ec && !refused && !parser.is_done()) {
    stream.expires_after(settings_.read_timeout);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    // Trailer fields would be merged into the headers (and so could reach
    // authn as credentials): refuse them.
    if (!ec && field_count(parser.get()) != header_fields)
      refused = FramingError{http::status::bad_request, "trailer fields are not accepted"};
  }
  co_return refused;
}

// Expect: 100-continue gets its interim response before the body is read;
// any other expectation is refused.
asio::awaitable<std::optional<FramingError>> HttpServer::answer_expectation(beast::tcp_stream& stream,
                                                                            RequestParser& parser,
                                                                            beast::error_code& ec) {
  auto expect = parser.get()[http::field::expect];
  if (expect.empty()) co_return std::nullopt;
  if (lower_trimmed(expect) != "100-continue")
    co_return FramingError{http::status::expectation_failed, "only Expect: 100-continue is supported"};
  if (!parser.is_done()) {
    http::response<http::empty_body> go_on{http::status::continue_, 11};
    stream.expires_after(settings_.read_timeout);
    co_await http::async_write(stream, go_on, asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return std::nullopt;
}

asio::awaitable<void> HttpServer::refuse(beast::tcp_stream& stream, const FramingError& refusal) {
  auto res = json_error(refusal.status, refusal.message);
  res.keep_alive(false);
  res.prepare_payload();
  stream.expires_after(settings_.read_timeout);
  beast::error_code write_ec;
  co_await write_response(stream, res, false, write_ec);
}

asio::awaitable<bool> HttpServer::respond(beast::tcp_stream& stream, HttpRequest& req) {
  HttpResponse res;
  in_flight_.fetch_add(1);
  try {
    res = co_await handler_(req);
  } catch (const std::exception& e) {
    log::error("handler failed", {{"server", settings_.name}, {"error", e.what()}});
    res = json_error(http::status::internal_server_error, "internal error");
  }
  in_flight_.fetch_sub(1);
  res.version(req.version());
  const bool keep_alive = req.keep_alive() && accepting_;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  stream.expires_after(settings_.read_timeout);
  beast::error_code ec;
  co_await write_response(stream, res, req.method() == http::verb::head, ec);
  co_return !ec && keep_alive;
}

}  // namespace fgac
