// Applies schema migrations in order, one at a time, under an advisory lock,
// recording each with its checksum in schema_migrations.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/pg_pool.hpp"
#include "schema/migration.hpp"

namespace fgac::schema {

class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MigrationState {
  Migration migration;
  bool applied = false;
  bool checksum_mismatch = false;
  std::string applied_at;
};

struct MigratorSettings {
  PgSettings database;
  // How long to wait for another migrator's advisory lock before giving up.
  std::chrono::milliseconds lock_wait{60000};
};

class Migrator {
 public:
  using Progress = std::function<void(const std::string&)>;

  Migrator(MigratorSettings settings, std::vector<Migration> migrations);

  // Every known migration with its applied state; applied rows for files that
  // no longer exist are reported as errors by migrate().
  std::vector<MigrationState> status();

  // Applies pending migrations up to and including `target` (all when unset).
  // With dry_run, only reports what would run. Returns the versions applied (or to apply).
  // `progress` hears each step as a line (taskctl prints them); by default nobody does.
  std::vector<std::string> migrate(
      bool dry_run, std::optional<std::string> target, const Progress& progress = [](const std::string&) {});

  // True when every known migration is applied with a matching checksum.
  bool is_current();

 private:
  MigratorSettings settings_;
  std::vector<Migration> migrations_;
};

// True when every migration is applied with a matching checksum (for /readyz:
// a binary must not serve a schema it was not built for). Uses the caller's connection.
bool migrations_current(pqxx::connection& conn, const std::vector<Migration>& migrations);

// The key of the session advisory lock every migrator takes.
inline constexpr long long kMigrationLockKey = 0x66676163;  // "fgac"

}  // namespace fgac::schema
