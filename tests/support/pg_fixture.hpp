// The shared cluster of a database test binary, and fresh databases in it.
#pragma once

#include <optional>
#include <string>

#include "common/pg_pool.hpp"
#include "tests/support/temp_postgres.hpp"

namespace fgac::testing {

// The cluster this test binary started in main(); one per process.
TempPostgres& cluster();
void set_cluster(TempPostgres* cluster);

// A new, empty database with a unique name; returns its URL.
std::string fresh_database();

// A new database migrated up to `target` (all migrations when unset).
std::string migrated_database(std::optional<std::string> target = std::nullopt);

PgSettings settings_for(const std::string& url, std::size_t pool_size = 4);

}  // namespace fgac::testing
