#include "common/http_server.hpp"

#include <nlohmann/json.hpp>

#include "common/log.hpp"

namespace fgac {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

HttpResponse json_response(http::status status, std::string body, unsigned version) {
  HttpResponse res{status, version};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

HttpResponse json_error(http::status status, std::string_view message, unsigned version) {
  nlohmann::json body{{"message", message}, {"code", static_cast<int>(status)}, {"data", nullptr}};
  return json_response(status, body.dump(), version);
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
}

asio::awaitable<void> HttpServer::accept_loop() {
  while (accepting_) {
    beast::error_code ec;
    tcp::socket socket =
        co_await acceptor_.async_accept(asio::make_strand(ioc_), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!accepting_ || ec == asio::error::operation_aborted) break;
      log::warn("accept failed", {{"server", settings_.name}, {"error", ec.message()}});
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

bool is_disconnect(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted || ec == asio::error::broken_pipe;
}

}  // namespace

asio::awaitable<void> HttpServer::session(beast::tcp_stream stream) {
  struct OpenGuard {
    std::atomic<std::size_t>& count;
    ~OpenGuard() { count.fetch_sub(1); }
  } guard{open_};

  beast::flat_buffer buffer;
  bool first = true;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(settings_.max_header_bytes);
    parser.body_limit(settings_.max_body_bytes);
    beast::error_code ec;

    // A keep-alive connection may sit idle between requests; the first request must come promptly.
    stream.expires_after(first ? settings_.read_timeout : settings_.idle_timeout);
    co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec && !parser.is_done()) {
      stream.expires_after(settings_.read_timeout);
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) {
      if (is_disconnect(ec)) break;
      if (ec == beast::error::timeout && buffer.size() == 0 && !parser.got_some()) break;  // idle keep-alive
      auto status = status_for_read_error(ec);
      auto res =
          json_error(status, status == http::status::payload_too_large                 ? "request body too large"
                             : status == http::status::request_header_fields_too_large ? "request headers too large"
                             : status == http::status::request_timeout                 ? "request not received in time"
                                                                                       : "malformed HTTP request");
      res.keep_alive(false);
      res.prepare_payload();
      stream.expires_after(settings_.read_timeout);
      beast::error_code write_ec;
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, write_ec));
      break;
    }
    first = false;

    HttpRequest req = parser.release();
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
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
}

}  // namespace fgac
