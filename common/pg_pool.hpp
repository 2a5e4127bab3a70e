// A bounded pool of libpqxx connections, each owned by one database thread.
// Blocking database work runs here, never on the I/O threads: callers hand
// in a function of `pqxx::connection&` and get its result back on their own
// executor.
#pragma once

#include "common/query.hpp"

#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/noncopyable.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/asio.hpp"

namespace fgac {

struct PgSettings {
  std::string url;
  std::size_t pool_size = 8;
  // Jobs waiting for a connection beyond this are refused at once (503),
  // so an outage cannot pile up unbounded work and memory.
  std::size_t max_queued = 1024;
  // A job still waiting for a connection after this long is answered
  // PgOverloaded instead of run (0: wait as long as it takes).
  std::chrono::milliseconds queue_timeout{0};
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds statement_timeout{5000};
  std::string application_name = "fgac-tasks";
  // unnamed: behind a transaction pooler; no named prepared statements and no
  // session settings (statement_timeout then belongs on the database role).
  StatementMode statements = StatementMode::prepared;
};

class EnvReader;
// DATABASE_STATEMENTS=prepared|unnamed, read by every binary that connects.
StatementMode read_statement_mode(EnvReader& r);

// The database could not take the job: the pool's queue is full, or the job
// waited longer than the queue timeout for a connection.
class PgOverloaded : public std::runtime_error {
 public:
  explicit PgOverloaded(const char* why = "database pool queue is full") : std::runtime_error(why) {}
};

// Adds connect_timeout, application_name and keepalive parameters unless the URL sets them.
std::string pg_connection_string(const PgSettings& settings);

// Opens a connection with the session settings every fgac-tasks connection uses.
std::unique_ptr<pqxx::connection> pg_connect(const PgSettings& settings);

// A job handed to the pool, until the database thread or the queue timer takes it.
template <class Handler, class Executor>
struct PendingJob {
  PendingJob(Handler h, const Executor& ex) : handler(std::move(h)), work(ex), timer(ex) {}
  std::atomic<bool> taken{false};  // whichever comes first completes the handler
  Handler handler;
  boost::asio::executor_work_guard<Executor> work;
  boost::asio::steady_timer timer;
};

class PgPool : boost::noncopyable {
 public:
  using Prepare = std::function<void(pqxx::connection&)>;

  // `prepare` runs on every new connection (declare prepared statements there).
  PgPool(PgSettings settings, Prepare prepare);
  ~PgPool();

  // Runs fn(conn) on a database thread; completion signature void(std::exception_ptr, R).
  // The handler runs exactly once on its own executor: with the job's result,
  // or with PgOverloaded when the queue is full or the job waited too long.
  template <class R, class Fn, class Token>
  auto async_run(Fn fn, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::exception_ptr, R)>(
        [this](auto handler, Fn job) {
          auto ex = boost::asio::get_associated_executor(handler);
          if (queued_.fetch_add(1) >= settings_.max_queued) {
            queued_.fetch_sub(1);
            boost::asio::post(ex, [h = std::move(handler), w = boost::asio::make_work_guard(ex)]() mutable {
              h(std::make_exception_ptr(PgOverloaded{}), R{});
            });
            return;
          }
          using Pending = PendingJob<decltype(handler), decltype(ex)>;
          auto pending = std::make_shared<Pending>(std::move(handler), ex);
          if (settings_.queue_timeout.count() > 0) {
            pending->timer.expires_after(settings_.queue_timeout);
            pending->timer.async_wait([pending](const boost::system::error_code& ec) {
              if (ec || pending->taken.exchange(true)) return;
              std::move(pending->handler)(
                  std::make_exception_ptr(PgOverloaded{"timed out waiting for a database connection"}), R{});
            });
          }
          boost::asio::post(threads_, [this, pending, job = std::move(job), ex]() mutable {
            const bool timed_out = pending->taken.exchange(true);
            if (!timed_out) {
              // The timer belongs to the handler's executor: cancel it there.
              boost::asio::post(ex, [pending] { pending->timer.cancel(); });
            }
            std::exception_ptr error;
            R result{};
            if (!timed_out) {
              try {
                result = with_connection<R>(job);
              } catch (...) {
                error = std::current_exception();
              }
            }
            queued_.fetch_sub(1);
            if (timed_out) return;
            boost::asio::post(ex, [pending, error, result = std::move(result)]() mutable {
              std::move(pending->handler)(error, std::move(result));
            });
          });
        },
        token, std::move(fn));
  }

  // Runs fn(conn) on the calling thread with a pooled connection (for CLI tools and tests).
  template <class R, class Fn>
  R run_blocking(Fn fn) {
    return with_connection<R>(fn);
  }

  [[nodiscard]] const PgSettings& settings() const { return settings_; }
  void stop();

 private:
  struct Slot {
    std::unique_ptr<pqxx::connection> conn;
  };

  Slot* acquire();
  void release(Slot* slot);
  void ensure_open(Slot& slot);

  template <class R, class Fn>
  R with_connection(Fn& fn) {
    Slot* slot = acquire();
    try {
      ensure_open(*slot);
      if constexpr (std::is_void_v<R>) {
        fn(*slot->conn);
        release(slot);
      } else {
        R result = fn(*slot->conn);
        release(slot);
        return result;
      }
    } catch (const pqxx::broken_connection&) {
      slot->conn.reset();  // reconnect on next use
      release(slot);
      throw;
    } catch (...) {
      release(slot);
      throw;
    }
  }

  PgSettings settings_;
  Prepare prepare_;
  boost::asio::thread_pool threads_;
  std::atomic<std::size_t> queued_{0};
  std::mutex mutex_;
  std::condition_variable slot_freed_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> free_;
};

// From a coroutine: runs fn(conn) on one of the pool's database threads and
// resumes with its result (or its exception) on the caller's executor.
template <class R, class Fn>
boost::asio::awaitable<R> on_database(PgPool& pool, Fn fn) {
  co_return co_await pool.async_run<R>(std::move(fn), boost::asio::use_awaitable);
}

// Whether an exception means the database itself is unavailable (maps to 503).
bool is_database_unavailable(const std::exception& e);

}  // namespace fgac
