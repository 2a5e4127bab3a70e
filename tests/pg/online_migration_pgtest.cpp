// The feature's migrations run while the tasks table takes inserts from
// several connections: no insert may wait longer than the migrations'
// lock_timeout, and everything must end validated.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>
#include <utility>
#include <vector>

#include "schema/migrator.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/services.hpp"

using namespace std::chrono;
using fgac::testing::settings_for;

namespace {
constexpr int kSeedRows = 200000;
constexpr int kWriters = 4;
constexpr auto kLockTimeout = seconds(5);  // what every migration sets (its own test case checks)

// Rows for the migrations to work through while the load runs.
void seed_tasks(const std::string& url) {
  auto conn = fgac::pg_connect(settings_for(url));
  pqxx::work tx(*conn);
  tx.exec0("SET LOCAL statement_timeout = 0");
  tx.exec_params0(
      "INSERT INTO tasks (id, name, status, params, created_at, updated_at) "
      "SELECT gen_random_uuid(), 'seed-' || g, 'RUNNING', '{}'::jsonb, now(), now() FROM generate_series(1, $1) g",
      kSeedRows);
  tx.commit();
}

// kWriters connections inserting tasks one at a time until stopped, each
// insert timed: the load the migrations must not stall.
class InsertLoad {
 public:
  explicit InsertLoad(const std::string& url) {
    writers_.reserve(kWriters);
    for (int w = 0; w < kWriters; ++w) writers_.emplace_back([this, url, w] { write(url, w); });
  }
  InsertLoad(const InsertLoad&) = delete;
  InsertLoad& operator=(const InsertLoad&) = delete;
  ~InsertLoad() { stop(); }

  void stop() {
    stop_ = true;
    for (auto& t : writers_) {
      if (t.joinable()) t.join();
    }
  }
  // Every writer has committed an insert.
  [[nodiscard]] bool all_writing() const { return writing_.load() == kWriters; }
  [[nodiscard]] long long inserted() const { return inserted_.load(); }
  [[nodiscard]] long long failures() const { return failures_.load(); }
  [[nodiscard]] long long longest_us() const { return longest_us_.load(); }

 private:
  void write(const std::string& url, int w) {
    auto conn = fgac::pg_connect(settings_for(url));
    bool first = true;
    for (long long i = 0; !stop_.load(); ++i) {
      const auto started = steady_clock::now();
      try {
        pqxx::work tx(*conn);
        tx.exec_params0(
            "INSERT INTO tasks (id, name, status, created_at, updated_at) "
            "VALUES (gen_random_uuid(), $1, 'RUNNING', now(), now())",
            "live-" + std::to_string(w) + "-" + std::to_string(i));
        tx.commit();
        inserted_.fetch_add(1);
        if (std::exchange(first, false)) writing_.fetch_add(1);
      } catch (const std::exception&) {
        failures_.fetch_add(1);
      }
      const long long us = duration_cast<microseconds>(steady_clock::now() - started).count();
      long long prev = longest_us_.load();
      while (us > prev && !longest_us_.compare_exchange_weak(prev, us)) {
      }
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<long long> inserted_{0};
  std::atomic<int> writing_{0};  // writers that have committed an insert
  std::atomic<long long> failures_{0};
  std::atomic<long long> longest_us_{0};
  std::vector<std::thread> writers_;
};

// The constraint and the indexes the migrations add online end up validated,
// and no row was lost.
void check_validated(const std::string& url, long long expected_rows) {
  auto conn = fgac::pg_connect(settings_for(url));
  pqxx::nontransaction tx(*conn);
  CHECK(
      tx.exec1("SELECT convalidated FROM pg_constraint WHERE conname = 'ck_tasks_at_most_one_creator'")[0].as<bool>());
  CHECK(
      tx.exec1(
            "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname IN "
            "('ix_tasks_creator_user_id', 'ix_tasks_creator_service_account_id') AND i.indisvalid AND i.indisready")[0]
          .as<int>() == 2);
  CHECK(tx.exec1("SELECT count(*) FROM tasks")[0].as<long long>() == expected_rows);
}

}  // namespace

TEST_CASE("every migration sets lock_timeout = '5s'") {
  for (const auto& m : fgac::schema::parse_migrations(fgac::schema::embedded_migration_files())) {
    CAPTURE(m.file_name);
    CHECK(m.sql.find("lock_timeout = '5s'") != std::string::npos);
  }
}

TEST_CASE("the feature's migrations run online under concurrent inserts") {
  const auto migrations = fgac::schema::parse_migrations(fgac::schema::embedded_migration_files());
  auto url = fgac::testing::fresh_database();
  fgac::schema::Migrator migrator({settings_for(url)}, migrations);
  migrator.migrate(false, std::string("0001"));
  seed_tasks(url);

  InsertLoad load(url);
  // Every writer has committed an insert: the load is on before the migrations start.
  REQUIRE(fgac::testing::eventually([&] { return load.all_writing(); }, seconds(30)));
  const long long before = load.inserted();
  const auto started = steady_clock::now();
  std::vector<std::string> applied;
  std::string error;
  try {
    applied = migrator.migrate(false, std::nullopt);
  } catch (const std::exception& e) {
    error = e.what();
  }
  const auto took = duration_cast<milliseconds>(steady_clock::now() - started);
  const long long during = load.inserted() - before;
  // The writers carry on after the migrations: each commits another insert.
  const long long after_migrations = load.inserted();
  CHECK(fgac::testing::eventually([&] { return load.inserted() >= after_migrations + kWriters; }, seconds(30)));
  load.stop();

  std::cout << "online migration: " << applied.size() << " migrations over " << kSeedRows << " rows in " << took.count()
            << " ms; " << during << " inserts from " << kWriters << " connections meanwhile; longest insert stall "
            << static_cast<double>(load.longest_us()) / 1000.0 << " ms (lock_timeout "
            << duration_cast<milliseconds>(kLockTimeout).count() << " ms)\n";

  CHECK(error.empty());
  CHECK(applied.size() == migrations.size() - 1);
  CHECK(load.failures() == 0);
  CHECK(during > 0);
  CHECK(load.longest_us() < duration_cast<microseconds>(kLockTimeout).count());
  check_validated(url, kSeedRows + load.inserted());
}
