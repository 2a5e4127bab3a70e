// ck_tasks_at_most_one_creator, enforced by the database itself.
#include <doctest/doctest.h>

#include "tests/support/pg_fixture.hpp"

using fgac::testing::migrated_database;
using fgac::testing::settings_for;

namespace {
constexpr const char* kInsert =
    "INSERT INTO tasks (id, name, status, creator_user_id, creator_service_account_id) "
    "VALUES (gen_random_uuid(), $1, 'RUNNING', $2, $3)";
}

TEST_CASE("the CHECK rejects a task with both creator columns set") {
  auto conn = fgac::pg_connect(settings_for(migrated_database()));
  pqxx::work tx(*conn);
  try {
    tx.exec_params(kInsert, "both", "user-alice", "sa-ci");
    FAIL("insert with both creators must fail");
  } catch (const pqxx::check_violation& e) {
    CHECK(std::string(e.what()).find("ck_tasks_at_most_one_creator") != std::string::npos);
  }
}

TEST_CASE("the CHECK accepts both NULL, or exactly one creator") {
  auto conn = fgac::pg_connect(settings_for(migrated_database()));
  pqxx::work tx(*conn);
  CHECK_NOTHROW(tx.exec_params(kInsert, "none", nullptr, nullptr));
  CHECK_NOTHROW(tx.exec_params(kInsert, "user", "user-alice", nullptr));
  CHECK_NOTHROW(tx.exec_params(kInsert, "sa", nullptr, "sa-ci"));
  CHECK(tx.exec1("SELECT count(*) FROM tasks")[0].as<int>() == 3);
}
