// A loopback HTTP/1.1 peer that answers each request with scripted raw bytes:
// for tests of what our client does with answers no well-behaved library
// server would send (interim 1xx, stray bytes, early closes).
#pragma once

#include <atomic>
#include <boost/noncopyable.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/asio.hpp"

namespace fgac::testing {

class ScriptedServer : boost::noncopyable {
 public:
  // The raw bytes to send for the index-th request (counted over all
  // connections) given its raw header section and body; an empty answer closes.
  using Reply = std::function<std::string(std::size_t index, const std::string& request)>;

  explicit ScriptedServer(Reply reply);
  ~ScriptedServer();

  [[nodiscard]] unsigned short port() const { return port_; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::size_t connections() const { return connections_.load(); }
  [[nodiscard]] std::vector<std::string> requests();

 private:
  void accept_loop();
  void serve(boost::asio::ip::tcp::socket socket);

  Reply reply_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> connections_{0};
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::vector<std::thread> threads_;
  std::thread accept_thread_;
};

}  // namespace fgac::testing
