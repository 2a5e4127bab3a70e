#include "outbox_worker/outbox_worker.hpp"

#include "common/log.hpp"
#include "common/monitor.hpp"
#include "schema/migrator.hpp"

namespace fgac::worker {

namespace asio = boost::asio;

namespace {
// How often a shutdown looks whether the in-flight calls have finished.
constexpr auto kDrainPoll = std::chrono::milliseconds(20);

SteadyClock::time_point steady_now() {
  return SteadyClock::now();
}
}  // namespace

OutboxWorker::OutboxWorker(asio::io_context& ioc, WorkerConfig config)
    : ioc_(ioc),
      config_(std::move(config)),
      metrics_(*registry_),
      pool_(std::make_unique<PgPool>(config_.database, outbox::prepare_statements)),
      outbox_(config_.worker_id),
      authz_(HttpClientSettings{.base_url = config_.authz_url,
                                .connect_timeout = config_.connect_timeout,
                                .request_timeout = config_.request_timeout,
                                .max_idle_connections = static_cast<std::size_t>(config_.concurrency),
                                .ca_file = config_.authz_ca_file},
             config_.service_token),
      completion_(ioc_, *pool_, outbox_, metrics_),
      breaker_(config_.breaker),
      rng_(std::random_device{}()),
      delivery_({.request_timeout = config_.request_timeout, .retry = config_.retry}, authz_, completion_, breaker_,
                metrics_, steady_now, [this] { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }),
      claimer_(
          ioc_,
          {.concurrency = config_.concurrency,
           .batch_size = config_.batch_size,
           .lease = config_.lease,
           .poll_interval = config_.poll_interval,
           .claim_ahead = default_claim_ahead(config_.concurrency, config_.batch_size),
           // A completion batch's worth may wait while the previous batch commits.
           .max_unrecorded = std::max<long long>(config_.concurrency, PgCompletion::kDefaultMaxBatch)},
          breaker_,
          [this](long long limit) {
            return on_database<std::vector<ClaimedRow>>(
                *pool_, [this, limit](pqxx::connection& c) { return outbox_.claim(c, limit, config_.lease); });
          },
          [this](ClaimedRow row, SteadyClock::time_point lease_end, bool probe, Answered answered) {
            return delivery_.run(std::move(row), lease_end, probe, std::move(answered));
          },
          [this](std::vector<ClaimedRow> rows) { return release_undelivered(std::move(rows)); }, steady_now),
      gauges_(
          ioc_, config_.gauge_refresh,
          [this] {
            return on_database<outbox::Gauges>(*pool_,
                                               [](pqxx::connection& c) { return outbox::WorkerOutbox::gauges(c); });
          },
          metrics_) {
  monitor_ =
      std::make_shared<HttpServer>(ioc_, config_.monitor, monitor_handler(registry_, [this] { return readiness(); }));
}

OutboxWorker::~OutboxWorker() {
  if (listener_) listener_->stop();
  pool_->stop();
}

asio::awaitable<void> OutboxWorker::release_undelivered(std::vector<ClaimedRow> rows) {
  const long long released = co_await on_database<long long>(
      *pool_, [this, &rows](pqxx::connection& c) { return outbox_.release_undelivered(c, rows); });
  log::info("handed claimed rows back undelivered", {{"rows", released}});
}

asio::awaitable<Readiness> OutboxWorker::readiness() {
  try {
    const bool current = co_await on_database<bool>(*pool_, [](pqxx::connection& c) {
      static const auto migrations = schema::parse_migrations(schema::embedded_migration_files());
      return schema::migrations_current(c, migrations);
    });
    co_return Readiness{current, current ? "" : "schema not current"};
  } catch (const std::exception& e) {
    co_return Readiness{false, "database unreachable"};
  }
}

void OutboxWorker::start() {
  monitor_->start();
  if (!config_.poll_only) {
    // The listener's thread posts wake-ups to the I/O loop: all state stays on one thread.
    listener_ = std::make_unique<NotificationListener>(config_.database,
                                                       [this] { asio::post(ioc_, [this] { claimer_.wake(); }); });
    listener_->start();
  }
  claimer_.start();
  gauges_.start();
  log::info("outbox-worker started", {{"worker_id", config_.worker_id},
                                      {"concurrency", config_.concurrency},
                                      {"batch_size", config_.batch_size},
                                      {"lease_ms", config_.lease.count()},
                                      {"poll_only", config_.poll_only},
                                      {"monitor_port", monitor_->port()}});
}

void OutboxWorker::shutdown(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  claimer_.stop();
  gauges_.stop();
  monitor_->stop_accepting();
  if (listener_) listener_->stop();
  asio::co_spawn(ioc_, drain_and_stop(std::move(done)), asio::detached);
}

asio::awaitable<void> OutboxWorker::drain_and_stop(std::function<void()> done) {
  const auto deadline = SteadyClock::now() + config_.shutdown_grace;
  asio::steady_timer timer(ioc_);
  // A claim still running would commit leases after the release below: wait for it too.
  while (!claimer_.idle() && SteadyClock::now() < deadline) {
    timer.expires_after(kDrainPoll);
    co_await timer.async_wait(asio::use_awaitable);
  }
  try {
    const long long released =
        co_await on_database<long long>(*pool_, [this](pqxx::connection& c) { return outbox_.release_all(c); });
    log::info("outbox-worker stopped", {{"unfinished_calls", claimer_.in_flight()}, {"leases_released", released}});
  } catch (const std::exception& e) {
    log::warn("could not release leases; they lapse on their own", {{"error", e.what()}});
  }
  done();
}

}  // namespace fgac::worker
