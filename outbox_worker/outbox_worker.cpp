#include "outbox_worker/outbox_worker.hpp"

#include "common/log.hpp"
#include "common/monitor.hpp"
#include "schema/migrator.hpp"

namespace fgac::worker {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {
// After a database error the claim loop waits this long before trying again.
constexpr auto kClaimErrorPause = std::chrono::milliseconds(500);

double now_epoch_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

OutboxWorker::OutboxWorker(asio::io_context& ioc, WorkerConfig config)
    : ioc_(ioc),
      config_(std::move(config)),
      registry_(std::make_shared<prometheus::Registry>()),
      metrics_(*registry_),
      pool_(std::make_unique<PgPool>(config_.database, prepare_outbox_statements)),
      repository_(config_.worker_id),
      authz_(HttpClientSettings{.base_url = config_.authz_url,
                                .connect_timeout = config_.connect_timeout,
                                .request_timeout = config_.request_timeout,
                                .max_idle_connections = static_cast<std::size_t>(config_.concurrency),
                                .ca_file = config_.authz_ca_file},
             config_.service_token),
      wake_timer_(ioc_),
      gauge_timer_(ioc_),
      breaker_(config_.breaker),
      rng_(std::random_device{}()) {
  monitor_ = std::make_shared<HttpServer>(
      ioc_, config_.monitor, monitor_handler(registry_, [this]() -> asio::awaitable<Readiness> {
        try {
          const bool current = co_await db<bool>([](pqxx::connection& c) {
            static const auto migrations = schema::parse_migrations(schema::embedded_migration_files());
            return schema::migrations_current(c, migrations);
          });
          co_return Readiness{current, current ? "" : "schema not current"};
        } catch (const std::exception& e) {
          co_return Readiness{false, "database unreachable"};
        }
      }));
}

OutboxWorker::~OutboxWorker() {
  if (listener_) listener_->stop();
  pool_->stop();
}

void OutboxWorker::start() {
  monitor_->start();
  if (!config_.poll_only) {
    // The listener's thread posts wake-ups to the I/O loop: all state stays on one thread.
    listener_ =
        std::make_unique<NotificationListener>(config_.database, [this] { asio::post(ioc_, [this] { wake(); }); });
    listener_->start();
  }
  asio::co_spawn(ioc_, claim_loop(), asio::detached);
  asio::co_spawn(ioc_, gauge_loop(), asio::detached);
  log::info("outbox-worker started", {{"worker_id", config_.worker_id},
                                      {"concurrency", config_.concurrency},
                                      {"batch_size", config_.batch_size},
                                      {"lease_ms", config_.lease.count()},
                                      {"poll_only", config_.poll_only},
                                      {"monitor_port", monitor_->port()}});
}

void OutboxWorker::wake() {
  wake_pending_ = true;
  wake_timer_.cancel();
}

asio::awaitable<void> OutboxWorker::claim_loop() {
  while (!stopping_) {
    const long long allowed = breaker_.claim_limit(config_.concurrency - in_flight_, Clock::now());
    if (allowed > 0) {
      const long long want = std::min(allowed, config_.batch_size);
      // Only a claim that starts while the breaker is open is its probe; one
      // that it opened under is a batch from before the trip.
      const bool probing = breaker_.open();
      std::vector<ClaimedRow> rows;
      bool failed = false;
      wake_pending_ = false;
      const auto claimed_at = Clock::now();
      claiming_ = true;
      try {
        rows = co_await db<std::vector<ClaimedRow>>(
            [&](pqxx::connection& c) { return repository_.claim(c, want, config_.lease); });
      } catch (const std::exception& e) {
        log::warn("claim failed", {{"error", e.what()}});
        failed = true;
      }
      claiming_ = false;
      if (stopping_) {
        // Claimed during shutdown: hand the rows straight back.
        break;
      }
      const bool probe = probing && breaker_.claimed(static_cast<long long>(rows.size()));
      // The lease started server-side no earlier than claimed_at.
      const auto lease_end = claimed_at + config_.lease;
      for (auto& row : rows) {
        ++in_flight_;
        asio::co_spawn(ioc_, deliver(std::move(row), lease_end, probe), asio::detached);
      }
      if (failed) {
        wake_timer_.expires_after(kClaimErrorPause);
        boost::system::error_code ec;
        co_await wake_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      // A full batch means more is probably due: go again at once.
      if (static_cast<long long>(rows.size()) == want && in_flight_ < config_.concurrency && !breaker_.open()) {
        continue;
      }
    }
    const auto now = Clock::now();
    if (wake_pending_ && breaker_.claim_limit(config_.concurrency - in_flight_, now) > 0) continue;
    // While the breaker is open, wake-ups cannot shorten its pause: the loop
    // sleeps until the probe may go (or, with nothing due, until the next
    // poll), and the probe's result wakes it.
    auto sleep = std::chrono::duration_cast<Clock::duration>(config_.poll_interval);
    if (auto until_probe = breaker_.until_probe(now); until_probe && *until_probe > Clock::duration::zero()) {
      sleep = std::min(sleep, *until_probe);
    }
    wake_timer_.expires_after(sleep);
    boost::system::error_code ec;
    co_await wake_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void OutboxWorker::record_for_breaker(bool unavailable, bool probe) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const bool changed = breaker_.record(unavailable, probe, Clock::now(), unit(rng_));
  // After a probe the loop re-arms its timer for the next one, or claims at full rate.
  if (probe || changed) wake();
  if (!changed) return;
  metrics_.breaker_open(breaker_.open());
  if (breaker_.open()) {
    log::warn("authz service unavailable: circuit breaker open, claiming one probe row at a time",
              {{"after_consecutive_failures", config_.breaker.trip_after}});
  } else {
    log::info("authz service answering again: circuit breaker closed");
  }
}

asio::awaitable<void> OutboxWorker::deliver(ClaimedRow row, Clock::time_point lease_end, bool probe) {
  const Op op = row.op;
  metrics_.attempt(op);
  // The call may not outlive the lease (minus a margin): then the row could be
  // claimed again by someone else while this call is still in flight.
  const auto budget =
      std::chrono::duration_cast<std::chrono::milliseconds>(lease_end - kLeaseSafetyMargin - Clock::now());
  const auto timeout = std::min(config_.request_timeout, std::max(budget, std::chrono::milliseconds(1)));
  const auto started = Clock::now();
  CallResult result = co_await authz_.deliver(row, timeout);
  metrics_.request_duration(op, std::chrono::duration<double>(Clock::now() - started).count());
  const Outcome outcome = classify(op, result.status);
  record_for_breaker(means_service_unavailable(outcome), probe);

  bool applied = true;
  try {
    if (Clock::now() > lease_end - kLeaseSafetyMargin) {
      // Too close to the lease's end: never complete; the row is claimed again after it lapses.
      log::warn("abandoned a call that outlived its lease budget",
                {{"resource_id", row.resource_id}, {"op", op_name(op)}});
    } else {
      switch (outcome.action) {
        case Action::success: {
          applied =
              co_await db<bool>([&](pqxx::connection& c) { return repository_.complete(c, row, result.zedtoken); });
          if (applied) metrics_.success(op, now_epoch_seconds() - row.enqueued_at);
          break;
        }
        case Action::retry: {
          std::uniform_real_distribution<double> unit(0.0, 1.0);
          const auto delay = retry_delay(row.attempts, config_.retry, unit(rng_));
          metrics_.retry(op, outcome.exception_class);
          log::info("authz call failed; will retry", {{"resource_id", row.resource_id},
                                                      {"op", op_name(op)},
                                                      {"exception_class", outcome.exception_class},
                                                      {"attempt", row.attempts},
                                                      {"retry_in_ms", delay.count()},
                                                      {"error", result.error}});
          applied = co_await db<bool>([&](pqxx::connection& c) {
            return repository_.retry(c, row, delay, outcome.exception_class, result.status, result.error);
          });
          break;
        }
        case Action::dead_letter: {
          metrics_.failure(op, outcome.exception_class);
          log::error("authz call failed permanently; dead-lettered", {{"resource_id", row.resource_id},
                                                                      {"op", op_name(op)},
                                                                      {"exception_class", outcome.exception_class},
                                                                      {"error", result.error}});
          applied = co_await db<bool>([&](pqxx::connection& c) {
            return repository_.dead_letter(c, row, outcome.exception_class, result.status, result.error);
          });
          break;
        }
      }
    }
  } catch (const std::exception& e) {
    // The row keeps its lease and is delivered again once it lapses (at-least-once).
    log::warn("could not record a delivery outcome", {{"resource_id", row.resource_id}, {"error", e.what()}});
  }
  const bool was_full = in_flight_ >= config_.concurrency;
  --in_flight_;
  // Not applied: the desire changed meanwhile and the guard freed the row (or
  // another worker holds it now). Claim again at once rather than on the next
  // poll: the newer desire's NOTIFY came while the row was still leased.
  if (was_full || !applied) wake();
}

asio::awaitable<void> OutboxWorker::gauge_loop() {
  while (!stopping_) {
    try {
      auto g = co_await db<OutboxGauges>([](pqxx::connection& c) { return OutboxRepository::gauges(c); });
      metrics_.gauges(g);
    } catch (const std::exception& e) {
      log::debug("gauge refresh failed", {{"error", e.what()}});
    }
    gauge_timer_.expires_after(config_.gauge_refresh);
    boost::system::error_code ec;
    co_await gauge_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void OutboxWorker::shutdown(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  wake_timer_.cancel();
  gauge_timer_.cancel();
  monitor_->stop_accepting();
  if (listener_) listener_->stop();
  asio::co_spawn(ioc_, drain_and_stop(std::move(done)), asio::detached);
}

asio::awaitable<void> OutboxWorker::drain_and_stop(std::function<void()> done) {
  const auto deadline = Clock::now() + config_.shutdown_grace;
  asio::steady_timer timer(ioc_);
  // A claim still running would commit leases after the release below: wait for it too.
  while ((in_flight_ > 0 || claiming_) && Clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::use_awaitable);
  }
  try {
    const long long released =
        co_await db<long long>([this](pqxx::connection& c) { return repository_.release_all(c); });
    log::info("outbox-worker stopped", {{"unfinished_calls", in_flight_}, {"leases_released", released}});
  } catch (const std::exception& e) {
    log::warn("could not release leases; they lapse on their own", {{"error", e.what()}});
  }
  done();
}

}  // namespace fgac::worker
