#include "tests/support/pg_fixture.hpp"

#include <atomic>
#include <stdexcept>

#include "schema/migrator.hpp"

namespace fgac::testing {
namespace {
TempPostgres* g_cluster = nullptr;
std::atomic<int> g_counter{0};
}  // namespace

TempPostgres& cluster() {
  if (g_cluster == nullptr) throw std::runtime_error("no test cluster: the test main must start one");
  return *g_cluster;
}

void set_cluster(TempPostgres* c) {
  g_cluster = c;
}

std::string fresh_database() {
  return cluster().create_database("t" + std::to_string(g_counter.fetch_add(1)));
}

PgSettings settings_for(const std::string& url, std::size_t pool_size) {
  PgSettings s;
  s.url = url;
  s.pool_size = pool_size;
  s.application_name = "fgac-tests";
  return s;
}

std::string migrated_database(std::optional<std::string> target) {
  auto url = fresh_database();
  schema::Migrator migrator({settings_for(url)}, schema::parse_migrations(schema::embedded_migration_files()));
  migrator.migrate(false, std::move(target));
  return url;
}

}  // namespace fgac::testing
