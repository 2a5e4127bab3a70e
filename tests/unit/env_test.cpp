#include <doctest/doctest.h>

#include <map>

#include "common/env.hpp"
#include "tests/unit/map_env.hpp"

using fgac::testing::MapEnv;

TEST_CASE("env: defaults apply when a variable is unset or empty") {
  MapEnv env(std::map<std::string, std::string>{{"WORKER_BATCH_SIZE", ""}});
  fgac::EnvReader r(env);
  CHECK(r.integer("WORKER_BATCH_SIZE", 100, 1, 1000) == 100);
  CHECK(r.boolean("FGAC_TASKS_DUAL_WRITE", false) == false);
  CHECK(r.str("LOG_LEVEL", "info") == "info");
  CHECK_NOTHROW(r.finish());
}

TEST_CASE("env: booleans accept true/false spellings and reject anything else") {
  MapEnv env(std::map<std::string, std::string>{{"A", "TRUE"}, {"B", "0"}, {"C", "maybe"}});
  fgac::EnvReader r(env);
  CHECK(r.boolean("A", false));
  CHECK_FALSE(r.boolean("B", true));
  r.boolean("C", false);
  CHECK_THROWS_WITH_AS(r.finish(), doctest::Contains("C=maybe is not a boolean"), fgac::ConfigError);
}

TEST_CASE("env: integers are range-checked and every problem is reported at once") {
  MapEnv env(std::map<std::string, std::string>{{"WORKER_CONCURRENCY", "0"}, {"WORKER_BATCH_SIZE", "12x"}});
  fgac::EnvReader r(env);
  r.integer("WORKER_CONCURRENCY", 32, 1, 4096);
  r.integer("WORKER_BATCH_SIZE", 100, 1, 10000);
  try {
    r.finish();
    FAIL("finish() should throw");
  } catch (const fgac::ConfigError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("WORKER_CONCURRENCY=0 is out of range [1, 4096]") != std::string::npos);
    CHECK(msg.find("WORKER_BATCH_SIZE=12x is not an integer") != std::string::npos);
  }
}

TEST_CASE("env: a required variable that is missing is an error") {
  MapEnv env(std::map<std::string, std::string>{});
  fgac::EnvReader r(env);
  r.required_str("DATABASE_URL");
  CHECK_THROWS_WITH_AS(r.finish(), doctest::Contains("DATABASE_URL is required"), fgac::ConfigError);
}

TEST_CASE("env: an unknown variable with one of our prefixes is rejected as a likely typo") {
  MapEnv env(
      std::map<std::string, std::string>{{"WORKER_CONCURENCY", "8"}, {"WORKER_CONCURRENCY", "8"}, {"PATH", "/bin"}});
  fgac::EnvReader r(env);
  r.integer("WORKER_CONCURRENCY", 32, 1, 4096);
  r.reject_unknown({"WORKER_"});
  CHECK_THROWS_WITH_AS(r.finish(), doctest::Contains("unknown variable WORKER_CONCURENCY"), fgac::ConfigError);
}

TEST_CASE("env: a variable is known because its binary reads it, with no list to keep in step") {
  MapEnv env(std::map<std::string, std::string>{{"WORKER_NEW_KNOB", "3"}, {"API_PORT", "1"}});
  fgac::EnvReader r(env);
  CHECK(r.integer("WORKER_NEW_KNOB", 1, 1, 9, "a knob added today") == 3);
  r.reject_unknown({"WORKER_"});  // API_PORT is another binary's: not this reader's concern
  CHECK_NOTHROW(r.finish());
  REQUIRE(r.declared().size() == 1);
  CHECK(r.declared()[0].name == "WORKER_NEW_KNOB");
  CHECK(r.declared()[0].fallback == "1");
  CHECK(r.declared()[0].doc == "a knob added today");
}
