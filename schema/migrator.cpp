#include "schema/migrator.hpp"

#include <map>
#include <thread>

namespace fgac::schema {
namespace {

// The bookkeeping table itself is created online-safely: short lock and statement timeouts.
constexpr const char* kCreateMigrationsTable = R"sql(
SET lock_timeout = '5s';
SET statement_timeout = '30s';
CREATE TABLE IF NOT EXISTS schema_migrations (
  version     text PRIMARY KEY,
  name        text NOT NULL,
  checksum    text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  duration_ms bigint NOT NULL
);
RESET lock_timeout;
RESET statement_timeout;
)sql";

constexpr const char* kSelectApplied =
    "SELECT version, name, checksum, applied_at::text FROM schema_migrations ORDER BY version";
constexpr const char* kInsertApplied =
    "INSERT INTO schema_migrations (version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)";
constexpr const char* kTryLock = "SELECT pg_try_advisory_lock($1)";
constexpr const char* kUnlock = "SELECT pg_advisory_unlock($1)";
constexpr const char* kTableExists = "SELECT to_regclass('schema_migrations') IS NOT NULL";

struct AppliedRow {
  std::string name;
  std::string checksum;
  std::string applied_at;
};

std::map<std::string, AppliedRow> read_applied(pqxx::connection& conn) {
  std::map<std::string, AppliedRow> out;
  pqxx::nontransaction tx(conn);
  if (!tx.exec1(kTableExists)[0].as<bool>()) return out;
  for (const auto& row : tx.exec(kSelectApplied)) {
    out[row[0].as<std::string>()] = {row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<std::string>()};
  }
  return out;
}

PgSettings migration_session(PgSettings db) {
  // Each file sets its own statement_timeout; the session default must not cut it short.
  db.statement_timeout = std::chrono::milliseconds(0);
  db.application_name = "taskctl-migrate";
  return db;
}

constexpr auto kLockRetryInterval = std::chrono::milliseconds(250);

// Two migrators must never interleave: takes the session advisory lock,
// waiting up to `lock_wait` for another migrator to release it.
void take_migration_lock(pqxx::connection& conn, std::chrono::milliseconds lock_wait,
                         const Migrator::Progress& progress) {
  const auto give_up = std::chrono::steady_clock::now() + lock_wait;
  for (bool announced = false;;) {
    pqxx::nontransaction tx(conn);
    if (tx.exec_params1(kTryLock, kMigrationLockKey)[0].as<bool>()) return;
    if (!announced) progress("waiting for another migrator to finish (advisory lock held)");
    announced = true;
    if (std::chrono::steady_clock::now() > give_up) {
      throw MigrationError("another migrator holds the migration lock; gave up after " +
                           std::to_string(lock_wait.count()) + " ms");
    }
    std::this_thread::sleep_for(kLockRetryInterval);
  }
}

// Releases the advisory lock however migrate() ends.
struct MigrationLockRelease {
  pqxx::connection& conn;
  ~MigrationLockRelease() {
    try {
      pqxx::nontransaction tx(conn);
      tx.exec_params(kUnlock, kMigrationLockKey);
    } catch (...) {  // NOLINT(bugprone-empty-catch): the lock dies with the session anyway
    }
  }
};

// An applied file that changed or vanished means the tree and the database disagree: stop.
void require_applied_unchanged(const std::vector<Migration>& migrations,
                               const std::map<std::string, AppliedRow>& applied) {
  std::map<std::string, const Migration*> by_version;
  for (const auto& m : migrations) by_version[m.version] = &m;
  for (const auto& [version, row] : applied) {
    auto it = by_version.find(version);
    if (it == by_version.end()) {
      throw MigrationError("migration " + version + "_" + row.name +
                           " is applied in the database but missing from this build");
    }
    if (it->second->checksum != row.checksum) {
      throw MigrationError("migration " + it->second->file_name +
                           " was edited after it was applied (checksum mismatch); add a new migration instead");
    }
  }
}

std::string describe(const Migration& m) {
  return m.file_name + (m.transactional ? "" : " (outside a transaction)");
}

// Runs one file and records it in schema_migrations, in its transaction when
// it has one; returns how long that took, in milliseconds.
long long apply_migration(const PgSettings& db, const Migration& m) {
  const auto started = std::chrono::steady_clock::now();
  // A fresh session per file, so that one file's SET cannot leak into the next.
  auto conn = pg_connect(db);
  auto elapsed_ms = [&] {
    return static_cast<long long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
  };
  try {
    if (m.transactional) {
      pqxx::work tx(*conn);
      tx.exec(m.sql);
      tx.exec_params(kInsertApplied, m.version, m.name, m.checksum, elapsed_ms());
      tx.commit();
    } else {
      // CREATE INDEX CONCURRENTLY refuses multi-statement strings: run each statement alone.
      pqxx::nontransaction tx(*conn);
      for (const auto& statement : split_sql_statements(m.sql)) tx.exec(statement);
      tx.exec_params(kInsertApplied, m.version, m.name, m.checksum, elapsed_ms());
    }
  } catch (const pqxx::sql_error& e) {
    throw MigrationError("migration " + m.file_name + " failed: " + e.what() +
                         (e.sqlstate().empty() ? "" : " (SQLSTATE " + e.sqlstate() + ")"));
  }
  return elapsed_ms();
}

}  // namespace

Migrator::Migrator(MigratorSettings settings, std::vector<Migration> migrations)
    : settings_(std::move(settings)), migrations_(std::move(migrations)) {
  settings_.database = migration_session(settings_.database);
}

std::vector<MigrationState> Migrator::status() {
  auto conn = pg_connect(settings_.database);
  auto applied = read_applied(*conn);
  std::vector<MigrationState> out;
  for (const auto& m : migrations_) {
    MigrationState s;
    s.migration = m;
    if (auto it = applied.find(m.version); it != applied.end()) {
      s.applied = true;
      s.applied_at = it->second.applied_at;
      s.checksum_mismatch = it->second.checksum != m.checksum;
    }
    out.push_back(std::move(s));
  }
  return out;
}

bool migrations_current(pqxx::connection& conn, const std::vector<Migration>& migrations) {
  auto applied = read_applied(conn);
  for (const auto& m : migrations) {
    auto it = applied.find(m.version);
    if (it == applied.end() || it->second.checksum != m.checksum) return false;
  }
  return true;
}

bool Migrator::is_current() {
  for (const auto& s : status()) {
    if (!s.applied || s.checksum_mismatch) return false;
  }
  return true;
}

std::vector<std::string> Migrator::migrate(bool dry_run, std::optional<std::string> target, const Progress& progress) {
  auto lock_conn = pg_connect(settings_.database);
  take_migration_lock(*lock_conn, settings_.lock_wait, progress);
  const MigrationLockRelease release{*lock_conn};

  if (!dry_run) {
    pqxx::nontransaction tx(*lock_conn);
    tx.exec(kCreateMigrationsTable);
  }
  const auto applied = read_applied(*lock_conn);
  require_applied_unchanged(migrations_, applied);

  std::vector<std::string> done;
  for (const auto& m : migrations_) {
    if (target && m.version > *target) break;
    if (applied.contains(m.version)) continue;
    if (dry_run) {
      progress("would apply " + describe(m));
    } else {
      progress("applying " + describe(m));
      const long long elapsed_ms = apply_migration(settings_.database, m);
      progress("applied " + m.file_name + " in " + std::to_string(elapsed_ms) + " ms");
    }
    done.push_back(m.version);
  }
  return done;
}

}  // namespace fgac::schema
