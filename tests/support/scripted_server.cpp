#include "tests/support/scripted_server.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

namespace fgac::testing {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

ScriptedServer::ScriptedServer(Reply reply)
    : reply_(std::move(reply)), acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  accept_thread_ = std::thread([this] { accept_loop(); });
}

ScriptedServer::~ScriptedServer() {
  stopping_ = true;
  // Wake the blocking accept with a connection of our own.
  boost::system::error_code ignored;
  tcp::socket wake(ioc_);
  wake.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ignored);
  accept_thread_.join();
  std::lock_guard lock(mutex_);
  for (auto& t : threads_) t.join();
}

std::vector<std::string> ScriptedServer::requests() {
  std::lock_guard lock(mutex_);
  return requests_;
}

void ScriptedServer::accept_loop() {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket(ioc_);
    acceptor_.accept(socket, ec);
    if (stopping_ || ec) return;
    connections_.fetch_add(1);
    std::lock_guard lock(mutex_);
    threads_.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
  }
}

void ScriptedServer::serve(tcp::socket socket) {
  std::string buffer;
  for (;;) {
    boost::system::error_code ec;
    const auto header_end = asio::read_until(socket, asio::dynamic_buffer(buffer), "\r\n\r\n", ec);
    if (ec) return;
    std::string request = buffer.substr(0, header_end);
    buffer.erase(0, header_end);
    std::size_t length = 0;
    std::string lower = request;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto at = lower.find("content-length:"); at != std::string::npos) {
      length = std::stoul(lower.substr(at + 15));
    }
    if (buffer.size() < length) {
      asio::read(socket, asio::dynamic_buffer(buffer), asio::transfer_exactly(length - buffer.size()), ec);
      if (ec) return;
    }
    request += buffer.substr(0, length);
    buffer.erase(0, length);
    std::size_t index = 0;
    {
      std::lock_guard lock(mutex_);
      index = requests_.size();
      requests_.push_back(request);
    }
    const std::string answer = reply_(index, request);
    if (answer.empty()) return;
    asio::write(socket, asio::buffer(answer), ec);
    if (ec) return;
  }
}

}  // namespace fgac::testing
