#include <doctest/doctest.h>

#include "common/digest.hpp"

#include <stdexcept>

#include "schema/migration.hpp"

using fgac::schema::split_sql_statements;

TEST_CASE("migrations: statements split on top-level semicolons only") {
  auto s = split_sql_statements(
      "SET lock_timeout = '5s';\n-- a comment; with a semicolon\nCREATE INDEX CONCURRENTLY x ON t (a) WHERE b = "
      "'x;y';\n"
      "/* block; comment */ SELECT $$a;b$$; SELECT $tag$c;d$tag$;\n  ;  \n");
  REQUIRE(s.size() == 4);
  CHECK(s[0] == "SET lock_timeout = '5s'");
  CHECK(s[1].starts_with("CREATE INDEX CONCURRENTLY x ON t (a) WHERE b = 'x;y'"));
  CHECK(s[2].find("SELECT $$a;b$$") != std::string::npos);
  CHECK(s[3] == "SELECT $tag$c;d$tag$");
}

TEST_CASE("migrations: quoted identifiers and doubled quotes do not end a statement") {
  auto s = split_sql_statements("SELECT 'it''s; fine', \"we;ird\"; SELECT 2");
  REQUIRE(s.size() == 2);
  CHECK(s[0] == "SELECT 'it''s; fine', \"we;ird\"");
  CHECK(s[1] == "SELECT 2");
}

TEST_CASE("migrations: a comment-only file has no statements") {
  CHECK(split_sql_statements("-- fgac:no-transaction\n-- nothing here;\n").empty());
}

TEST_CASE("migrations: files are ordered by version and the no-transaction marker is honoured") {
  auto ms = fgac::schema::parse_migrations(
      {{"0002_b.sql", "-- fgac:no-transaction\nSELECT 1;"}, {"0001_a.sql", "SELECT 1;"}});
  REQUIRE(ms.size() == 2);
  CHECK(ms[0].version == "0001");
  CHECK(ms[0].name == "a");
  CHECK(ms[0].transactional);
  CHECK(ms[1].version == "0002");
  CHECK_FALSE(ms[1].transactional);
  CHECK(ms[0].checksum == fgac::sha256_hex("SELECT 1;"));
  CHECK(ms[0].checksum.size() == 64);
}

TEST_CASE("migrations: bad names and duplicate versions are rejected") {
  CHECK_THROWS_AS(fgac::schema::parse_migrations({{"1_a.sql", ""}}), std::invalid_argument);
  CHECK_THROWS_AS(fgac::schema::parse_migrations({{"0001_a.txt", ""}}), std::invalid_argument);
  CHECK_THROWS_AS(fgac::schema::parse_migrations({{"0001_a.sql", ""}, {"0001_b.sql", ""}}), std::invalid_argument);
}

TEST_CASE("migrations: the embedded set is ordered, named and checksummed") {
  auto ms = fgac::schema::parse_migrations(fgac::schema::embedded_migration_files());
  REQUIRE(ms.size() >= 8);
  CHECK(ms.front().version == "0001");
  for (std::size_t i = 1; i < ms.size(); ++i) CHECK(ms[i - 1].version < ms[i].version);
  for (const auto& m : ms) {
    CHECK_MESSAGE(m.sql.find("lock_timeout") != std::string::npos, m.file_name);
    CHECK_MESSAGE(m.sql.find("statement_timeout") != std::string::npos, m.file_name);
    if (m.sql.find("CONCURRENTLY") != std::string::npos && m.sql.find("CREATE INDEX") != std::string::npos) {
      CHECK_MESSAGE(!m.transactional, m.file_name);
    }
  }
}
