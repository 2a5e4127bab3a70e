// Out of file descriptors: the accept loop pauses instead of spinning on
// EMFILE, and takes the waiting connection once descriptors are free again.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <unistd.h>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <thread>

#include "tests/support/api_fixture.hpp"

using namespace fgac::testing;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

int highest_open_fd() {
  int highest = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    highest = std::max(highest, std::stoi(entry.path().filename().string()));
  }
  return highest;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::string get_on(boost::beast::tcp_stream& stream) {
  asio::write(stream.socket(), asio::buffer(std::string("GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n")));
  std::string in;
  stream.expires_after(std::chrono::seconds(5));
  asio::read_until(stream, asio::dynamic_buffer(in), "\r\n\r\n");
  return in;
}

}  // namespace

TEST_CASE("descriptors: on EMFILE the accept loop pauses, then serves the waiting connection") {
  ApiFixture api({.auth_disabled = true});
  // Fill every hole below the highest open descriptor, so that the limit set
  // below leaves exactly kFree descriptors to open.
  const int highest = highest_open_fd();
  std::vector<int> placeholders;
  for (int fd = dup(0); fd >= 0 && fd < highest; fd = dup(0)) placeholders.push_back(fd);
  constexpr int kFree = 7;  // three accepted pairs, then a client whose server side cannot be accepted
  rlimit original{};
  getrlimit(RLIMIT_NOFILE, &original);
  rlimit tight = original;
  tight.rlim_cur = static_cast<rlim_t>(highest_open_fd()) + 1 + kFree;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &tight) == 0);

  asio::io_context ioc;
  std::vector<std::unique_ptr<boost::beast::tcp_stream>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<boost::beast::tcp_stream>(ioc));
    clients.back()->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), api.port()));
    CHECK(get_on(*clients.back()).starts_with("HTTP/1.1 404"));  // accepted and served
  }
  auto waiting = std::make_unique<boost::beast::tcp_stream>(ioc);
  waiting->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), api.port()));  // the last descriptor
  // Over half a second the server keeps failing to accept it; a loop that
  // retried at once would burn that half second of CPU.
  const double cpu_before = cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the measurement window
  const double cpu_used = cpu_seconds() - cpu_before;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &original) == 0);
  CHECK(cpu_used < 0.15);
  // With descriptors back, the waiting connection is taken and answered.
  CHECK(get_on(*waiting).starts_with("HTTP/1.1 404"));
  for (int fd : placeholders) close(fd);
  api.expect_healthy();
}
