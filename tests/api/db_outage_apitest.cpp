// A database that goes away: 503 with a safe message, and recovery on its own.
#include <doctest/doctest.h>

#include "tests/support/api_fixture.hpp"

using namespace fgac::testing;

TEST_CASE("database down: requests get 503, readiness fails, and the API recovers when it returns") {
  ApiFixture api;
  api.agent("agent-db");
  REQUIRE(api.post("/tasks", {{"agent_name", "agent-db"}, {"name", "before"}}).status == 201);

  cluster().stop();
  auto during = api.post("/tasks", {{"agent_name", "agent-db"}, {"name", "during"}});
  CHECK(during.status == 503);
  CHECK(during.json()["message"] == "database unavailable");
  CHECK(http_call(api.monitor_port(), "GET", "/readyz").status == 503);
  CHECK(http_call(api.monitor_port(), "GET", "/healthz").status == 200);
  cluster().start();

  CHECK(eventually(
      [&] {
        return api.post("/tasks", {{"agent_name", "agent-db"}, {"name", "after"}}).status == 201;
      },
      std::chrono::seconds(15)));
  CHECK(http_call(api.monitor_port(), "GET", "/readyz").status == 200);
  CHECK(api.scalar("SELECT count(*) FROM tasks WHERE name IN ('before', 'after')") == 2);
  CHECK(api.scalar("SELECT count(*) FROM tasks WHERE name = 'during'") == 0);
  CHECK(api.scalar("SELECT count(*) FROM authz_outbox") == 2);
}
