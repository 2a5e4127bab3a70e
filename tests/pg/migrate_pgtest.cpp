// taskctl migrate against a real PostgreSQL: order, bookkeeping, re-runs,
// edited files, the advisory lock and clear failures.
#include <doctest/doctest.h>

#include "common/digest.hpp"

#include <cstdlib>
#include <thread>

#include "schema/migrator.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"

using namespace fgac;
using fgac::testing::fresh_database;
using fgac::testing::settings_for;

namespace {

std::vector<schema::Migration> all_migrations() {
  return schema::parse_migrations(schema::embedded_migration_files());
}

std::string taskctl() {
  const char* dir = std::getenv("FGAC_BIN_DIR");  // NOLINT(concurrency-mt-unsafe)
  return std::string(dir != nullptr ? dir : "build/bin") + "/taskctl";
}

long long scalar(const std::string& url, const std::string& sql) {
  auto conn = pg_connect(settings_for(url));
  pqxx::nontransaction tx(*conn);
  return tx.exec1(sql)[0].as<long long>();
}

// migrate() over `migrations` refuses with a MigrationError that says `why`;
// returns how many migrations are recorded afterwards.
long long refused_migrate(const std::string& url, const std::vector<schema::Migration>& migrations, const char* why) {
  schema::Migrator m({settings_for(url)}, migrations);
  CHECK_THROWS_WITH_AS(m.migrate(false, std::nullopt), doctest::Contains(why), schema::MigrationError);
  return scalar(url, "SELECT count(*) FROM schema_migrations");
}

}  // namespace

TEST_CASE("migrate applies every migration in order and records each with its checksum") {
  auto url = fresh_database();
  schema::Migrator m({settings_for(url)}, all_migrations());
  std::vector<std::string> lines;
  auto applied = m.migrate(false, std::nullopt, [&](const std::string& l) { lines.push_back(l); });
  CHECK(applied.size() == all_migrations().size());
  CHECK(m.is_current());
  CHECK(scalar(url, "SELECT count(*) FROM schema_migrations") == static_cast<long long>(all_migrations().size()));
  CHECK(scalar(url, "SELECT count(*) FROM schema_migrations WHERE length(checksum) = 64") ==
        static_cast<long long>(all_migrations().size()));
  // The feature's objects exist, valid.
  CHECK(scalar(url,
               "SELECT count(*) FROM pg_constraint WHERE conname = 'ck_tasks_at_most_one_creator' AND convalidated") ==
        1);
  CHECK(scalar(url,
               "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname IN "
               "('ix_tasks_creator_user_id', 'ix_tasks_creator_service_account_id') AND i.indisvalid") == 2);
  CHECK(scalar(url,
               "SELECT count(*) FROM information_schema.columns WHERE table_name = 'tasks' AND column_name IN "
               "('creator_user_id', 'creator_service_account_id', 'authz_zedtoken', 'authz_synced_at')") == 4);
  CHECK(scalar(url, "SELECT count(*) FROM pg_class WHERE relname = 'authz_outbox'") == 1);
}

TEST_CASE("migrate is idempotent: a second run applies nothing") {
  auto url = fresh_database();
  schema::Migrator m({settings_for(url)}, all_migrations());
  m.migrate(false, std::nullopt);
  CHECK(m.migrate(false, std::nullopt).empty());
}

TEST_CASE("every migration file can be re-run by hand without error") {
  auto url = fresh_database();
  schema::Migrator m({settings_for(url)}, all_migrations());
  m.migrate(false, std::nullopt);
  auto conn = pg_connect(settings_for(url));
  for (const auto& mig : all_migrations()) {
    CAPTURE(mig.file_name);
    if (mig.transactional) {
      pqxx::work tx(*conn);
      CHECK_NOTHROW(tx.exec(mig.sql));
      tx.commit();
    } else {
      pqxx::nontransaction tx(*conn);
      for (const auto& s : schema::split_sql_statements(mig.sql)) CHECK_NOTHROW(tx.exec(s));
    }
  }
}

TEST_CASE("migrate --to stops at the target and dry-run changes nothing") {
  auto url = fresh_database();
  schema::Migrator m({settings_for(url)}, all_migrations());
  auto would = m.migrate(true, std::nullopt);
  CHECK(would.size() == all_migrations().size());
  CHECK(scalar(url, "SELECT count(*) FROM pg_class WHERE relname IN ('tasks', 'schema_migrations')") == 0);
  auto applied = m.migrate(false, std::string("0001"));
  REQUIRE(applied.size() == 1);
  CHECK(applied[0] == "0001");
  auto states = m.status();
  CHECK(states[0].applied);
  CHECK_FALSE(states[1].applied);
}

TEST_CASE("migrate refuses to run when an applied file was edited") {
  auto url = fresh_database();
  auto migrations = all_migrations();
  schema::Migrator({settings_for(url)}, migrations).migrate(false, std::string("0002"));
  migrations[0].sql += "\n-- edited";
  migrations[0].checksum = sha256_hex(migrations[0].sql);
  CHECK(refused_migrate(url, migrations, "was edited after it was applied") == 2);
}

TEST_CASE("a failing statement stops migrate, names the file and records nothing for it") {
  auto url = fresh_database();
  auto migrations = all_migrations();
  migrations.resize(1);
  migrations.push_back(
      {"0002", "broken", "0002_broken.sql", "SET LOCAL lock_timeout = '5s';\nSELECT no_such_function();", "x", true});
  CHECK(refused_migrate(url, migrations, "migration 0002_broken.sql failed") == 1);
}

TEST_CASE("a second migrator waits for the advisory lock and gives up clearly") {
  auto url = fresh_database();
  auto holder = pg_connect(settings_for(url));
  {
    pqxx::nontransaction tx(*holder);
    tx.exec_params("SELECT pg_advisory_lock($1)", schema::kMigrationLockKey);
  }
  schema::Migrator m({settings_for(url), std::chrono::milliseconds(700)}, all_migrations());
  CHECK_THROWS_WITH_AS(m.migrate(false, std::nullopt), doctest::Contains("another migrator holds the migration lock"),
                       schema::MigrationError);
  CHECK(scalar(url, "SELECT count(*) FROM pg_class WHERE relname = 'tasks'") == 0);
}

TEST_CASE("two migrators started together apply each migration exactly once") {
  auto url = fresh_database();
  std::vector<std::string> a;
  std::vector<std::string> b;
  std::thread t1([&] { a = schema::Migrator({settings_for(url)}, all_migrations()).migrate(false, std::nullopt); });
  std::thread t2([&] { b = schema::Migrator({settings_for(url)}, all_migrations()).migrate(false, std::nullopt); });
  t1.join();
  t2.join();
  CHECK(a.size() + b.size() == all_migrations().size());
  CHECK(scalar(url, "SELECT count(*) FROM schema_migrations") == static_cast<long long>(all_migrations().size()));
}

TEST_CASE("taskctl migrate: status, dry-run and clear failures with non-zero exits") {
  auto url = fresh_database();
  using fgac::testing::run_process;
  auto dry = run_process({taskctl(), "migrate", "--dry-run", "--database-url", url});
  CHECK(dry.exit_code == 0);
  CHECK(dry.output.find("would apply 0001_baseline.sql") != std::string::npos);

  auto status = run_process({taskctl(), "migrate", "status", "--database-url", url});
  CHECK(status.exit_code == 0);
  CHECK(status.output.find(std::to_string(all_migrations().size()) + " pending") != std::string::npos);

  auto run = run_process({taskctl(), "migrate", "--database-url", url});
  CHECK(run.exit_code == 0);
  CHECK(run.output.find("applied " + std::to_string(all_migrations().size()) + " migration(s)") != std::string::npos);
  auto again = run_process({taskctl(), "migrate", "--database-url", url});
  CHECK(again.output.find("schema is up to date") != std::string::npos);
  CHECK(run_process({taskctl(), "migrate", "status", "--database-url", url}).output.find("0 pending") !=
        std::string::npos);

  auto bad = run_process({taskctl(), "migrate", "--database-url", "not a url=="});
  CHECK(bad.exit_code == 1);
  CHECK(bad.output.find("taskctl: error:") != std::string::npos);

  const auto dead_port = std::to_string(fgac::testing::free_port());
  auto unreachable =
      run_process({taskctl(), "migrate", "--database-url", "postgresql://postgres@127.0.0.1:" + dead_port + "/x"});
  CHECK(unreachable.exit_code == 1);
  CHECK(unreachable.output.find("taskctl: error:") != std::string::npos);

  auto missing = run_process({"env", "-u", "DATABASE_URL", taskctl(), "migrate"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.output.find("DATABASE_URL is not set") != std::string::npos);
}
