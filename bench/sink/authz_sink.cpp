// authz-sink: answers outbox-worker's two calls, POST /v1/authz/register and
// POST /v1/authz/deregister, with 200 and the body the reference server
// gives (a zedtoken; deregister also "deleted") after a fixed latency, and
// does nothing else: no graph, no storage. Each answer waits on its own
// steady_timer, so any number of calls can wait at once without holding a
// thread, and the server never becomes the limit of what it measures.
// GET /stats reports per-path counts, the most calls waiting at once, and
// the process's own CPU time and peak RSS; POST /stats/reset zeroes the
// counts. Built with -DFGAC_BENCH_TOOLS=ON; see bench/sink/README.md.
//
//   authz-sink [--port N] [--threads N] [--latency-ms N] [--service-token T]
//
// --port 0 (the default) binds a free port; the port is always the first
// line on stdout.
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/asio.hpp"
#include "common/http_server.hpp"
#include "common/log.hpp"

namespace {

namespace asio = boost::asio;
namespace http = fgac::http;
using fgac::HttpRequest;
using fgac::HttpResponse;

// The worker's bodies are a few hundred bytes; anything near these is not its call.
constexpr std::uint64_t kMaxBodyBytes = std::uint64_t{64} * 1024;
constexpr std::uint32_t kMaxHeaderBytes = 8 * 1024;
// Above the largest WORKER_CONCURRENCY the benchmark uses, below the usual 4096 descriptors per process.
constexpr std::size_t kMaxConnections = 3000;
constexpr auto kShutdownGrace = std::chrono::seconds(2);
constexpr unsigned kMaxThreads = 64;
constexpr long kMaxLatencyMs = 600000;
// What the reference server reports after a deregister of a registered task
// (owner, tenant, parent_agent).
constexpr int kDeletedRelationships = 3;
constexpr double kMicrosPerSecond = 1e6;

struct Options {
  std::uint16_t port = 0;
  unsigned threads = 2;
  std::chrono::milliseconds latency{0};
  std::optional<std::string> service_token;
};

enum class Path : std::size_t { register_, deregister, count };
constexpr std::array<std::string_view, static_cast<std::size_t>(Path::count)> kPaths{"/v1/authz/register",
                                                                                     "/v1/authz/deregister"};

// Counters shared by every I/O thread; relaxed: /stats is a snapshot, not a barrier.
class Stats {
 public:
  void answered(Path path) { calls_[static_cast<std::size_t>(path)].fetch_add(1, std::memory_order_relaxed); }
  void not_found() { not_found_.fetch_add(1, std::memory_order_relaxed); }
  void rejected() { rejected_.fetch_add(1, std::memory_order_relaxed); }

  void wait_started() {
    const auto now = waiting_.fetch_add(1, std::memory_order_relaxed) + 1;
    auto peak = peak_waiting_.load(std::memory_order_relaxed);
    while (now > peak && !peak_waiting_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }
  void wait_ended() { waiting_.fetch_sub(1, std::memory_order_relaxed); }

  void reset() {
    for (auto& c : calls_) c.store(0, std::memory_order_relaxed);
    not_found_.store(0, std::memory_order_relaxed);
    rejected_.store(0, std::memory_order_relaxed);
    peak_waiting_.store(waiting_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }

  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json calls = nlohmann::json::object();
    for (std::size_t i = 0; i < kPaths.size(); ++i) calls[std::string(kPaths[i])] = calls_[i].load();
    return {{"calls", std::move(calls)},
            {"not_found", not_found_.load()},
            {"rejected", rejected_.load()},
            {"waiting", waiting_.load()},
            {"peak_waiting", peak_waiting_.load()}};
  }

 private:
  std::array<std::atomic<std::uint64_t>, kPaths.size()> calls_{};
  std::atomic<std::uint64_t> not_found_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::int64_t> waiting_{0};
  std::atomic<std::int64_t> peak_waiting_{0};
};

double seconds_of(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / kMicrosPerSecond;
}

// The whole process (every thread): getrusage(RUSAGE_SELF).
nlohmann::json own_usage() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double user = seconds_of(usage.ru_utime);
  const double system = seconds_of(usage.ru_stime);
  return {{"cpu_s", user + system}, {"user_cpu_s", user}, {"system_cpu_s", system}, {"max_rss_kib", usage.ru_maxrss}};
}

bool is_string_at(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string();
}

bool is_reference(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_object() && is_string_at(*it, "type") && is_string_at(*it, "selector");
}

// The wire contract's shape (DESIGN.md): a principal object and a resource;
// a register also names its parent.
bool is_valid_call(Path path, const std::string& text) {
  auto body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return false;
  auto principal = body.find("principal");
  if (principal == body.end() || !principal->is_object() || !is_reference(body, "resource")) return false;
  return path != Path::register_ || is_reference(body, "parent");
}

std::optional<Path> path_of(std::string_view target) {
  for (std::size_t i = 0; i < kPaths.size(); ++i) {
    if (target == kPaths[i]) return static_cast<Path>(i);
  }
  return std::nullopt;
}

// A token shaped like SpiceDB's (base64 text of a few dozen characters),
// different on every answer as a real one is after each write.
std::string next_zedtoken() {
  static std::atomic<std::uint64_t> revision{0};
  return "GhUKEzE3" + std::to_string(revision.fetch_add(1, std::memory_order_relaxed) + 1) + "MDAwMDAw";
}

class AuthzSink {
 public:
  AuthzSink(Options options, Stats& stats) : options_(std::move(options)), stats_(stats) {}

  asio::awaitable<HttpResponse> handle(HttpRequest& req) {
    const std::string_view target = req.target();
    if (target == "/stats" && req.method() == http::verb::get) co_return stats_response();
    if (target == "/stats/reset" && req.method() == http::verb::post) {
      stats_.reset();
      co_return stats_response();
    }
    const auto path = path_of(target);
    if (!path || req.method() != http::verb::post) {
      stats_.not_found();
      co_return fgac::json_error(http::status::not_found, "not found");
    }
    if (options_.service_token && req[http::field::authorization] != "Bearer " + *options_.service_token) {
      stats_.rejected();
      co_return fgac::json_error(http::status::unauthorized, "invalid service token");
    }
    if (!is_valid_call(*path, req.body())) {
      stats_.rejected();
      co_return fgac::json_error(http::status::unprocessable_entity, "not a register or deregister body");
    }
    if (options_.latency.count() > 0) {
      // On this connection's strand: the thread serves other calls meanwhile.
      asio::steady_timer timer(co_await asio::this_coro::executor);
      timer.expires_after(options_.latency);
      stats_.wait_started();
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      stats_.wait_ended();
    }
    stats_.answered(*path);
    nlohmann::json answer{{"zedtoken", next_zedtoken()}};
    if (*path == Path::deregister) answer["deleted"] = kDeletedRelationships;
    co_return fgac::json_response(http::status::ok, answer.dump());
  }

 private:
  [[nodiscard]] HttpResponse stats_response() const {
    auto body = stats_.to_json();
    body["process"] = own_usage();
    body["threads"] = options_.threads;
    body["latency_ms"] = options_.latency.count();
    return fgac::json_response(http::status::ok, body.dump());
  }

  Options options_;
  Stats& stats_;
};

long parse_number(std::string_view flag, std::string_view text, long low, long high) {
  long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < low || value > high) {
    throw std::invalid_argument(std::string(flag) + " must be a number from " + std::to_string(low) + " to " +
                                std::to_string(high));
  }
  return value;
}

Options parse_options(const std::vector<std::string_view>& args) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view flag = args[i];
    if (i + 1 >= args.size()) throw std::invalid_argument("missing value after " + std::string(flag));
    const std::string_view value = args[++i];
    if (flag == "--port") {
      o.port = static_cast<std::uint16_t>(parse_number(flag, value, 0, UINT16_MAX));
    } else if (flag == "--threads") {
      o.threads = static_cast<unsigned>(parse_number(flag, value, 1, kMaxThreads));
    } else if (flag == "--latency-ms") {
      o.latency = std::chrono::milliseconds(parse_number(flag, value, 0, kMaxLatencyMs));
    } else if (flag == "--service-token") {
      o.service_token = std::string(value);
    } else {
      throw std::invalid_argument("unknown option " + std::string(flag));
    }
  }
  return o;
}

int run(const Options& options) {
  fgac::log::set_level(fgac::log::Level::warn);  // stdout's first line is the port
  Stats stats;
  AuthzSink sink(options, stats);
  asio::io_context ioc(static_cast<int>(options.threads));
  const fgac::HttpServerSettings settings{.name = "authz-sink",
                                          .address = "127.0.0.1",
                                          .port = options.port,
                                          .max_body_bytes = kMaxBodyBytes,
                                          .max_header_bytes = kMaxHeaderBytes,
                                          .max_connections = kMaxConnections};
  auto server =
      std::make_shared<fgac::HttpServer>(ioc, settings, [&sink](HttpRequest& req) { return sink.handle(req); });
  server->start();
  std::cout << server->port() << "\n" << std::flush;  // the harness reads it at once

  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    server->stop_accepting();
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          co_await server->drain(std::chrono::steady_clock::now() + kShutdownGrace);
          ioc.stop();
        },
        asio::detached);
  });
  std::vector<std::jthread> threads;
  threads.reserve(options.threads - 1);
  for (unsigned i = 1; i < options.threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse_options(std::vector<std::string_view>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::cerr << "authz-sink: " << e.what() << "\n"
              << "usage: authz-sink [--port N] [--threads N] [--latency-ms N] [--service-token T]\n";
    return 2;
  }
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::cerr << "authz-sink: " << e.what() << "\n";
    return 1;
  }
}
