// DATABASE_STATEMENTS=unnamed behind Debian's PgBouncer in transaction mode:
// the task API (in process) and a poll-only outbox-worker process, with
// three server connections for all of them, so consecutive transactions of
// one client land on different server sessions.
#include <doctest/doctest.h>

#include "tests/support/api_fixture.hpp"
#include "tests/support/pgbouncer.hpp"
#include "tests/worker/harness.hpp"

using namespace fgac::testing;
using nlohmann::json;

TEST_CASE("pgbouncer: the API and a poll-only worker work through transaction pooling with unnamed statements") {
  OutboxHarness h;
  PgBouncer bouncer(h.database_url());
  // Behind the pooler the database (or role) carries what the binaries would
  // otherwise SET on their sessions.
  const auto database = h.database_url().substr(h.database_url().rfind('/') + 1);
  h.exec("ALTER DATABASE \"" + database + "\" SET statement_timeout = '5s'");
  h.exec("ALTER DATABASE \"" + database + "\" SET fgac.outbox_notify = 'deferred'");

  ApiOptions options;
  options.database_url = bouncer.url();
  options.configure = [](fgac::api::ApiConfig& c) { c.database.statements = fgac::StatementMode::unnamed; };
  ApiFixture api(options);
  api.agent("pgb-agent");
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    auto r = api.post("/tasks", {{"agent_name", "pgb-agent"}, {"name", "pgb-" + std::to_string(i)}});
    REQUIRE_MESSAGE(r.status == 201, r.body << "\n" << bouncer.log());
    ids.push_back(r.json()["id"].get<std::string>());
    CHECK(api.call("GET", "/tasks/" + ids.back()).status == 200);
  }
  auto rpc = api.post("/agents/name/pgb-agent/rpc", {{"method", "task/create"}, {"params", {{"name", "pgb-0"}}}});
  CHECK(rpc.json()["result"]["id"] == ids[0]);
  CHECK(api.call("PUT", "/tasks/" + ids[1], R"({"merge_params":{"a":1}})").status == 200);
  CHECK(api.call("POST", "/tasks/" + ids[2] + "/complete", "{}").status == 200);
  CHECK(api.call("GET", "/tasks?agent_name=pgb-agent&limit=100").json().size() == 30);
  for (int i = 25; i < 30; ++i) CHECK(api.call("DELETE", "/tasks/" + ids[static_cast<std::size_t>(i)]).status == 200);

  WorkerProcess worker(bouncer.url(), h.authz().url(), "w-pgbouncer",
                       {"DATABASE_STATEMENTS=unnamed", "WORKER_POLL_ONLY=true"});
  REQUIRE(h.drained(std::chrono::seconds(30)));
  CHECK(h.scalar("SELECT count(*) FROM tasks WHERE authz_synced_at IS NOT NULL") == 25);
  for (std::size_t i = 0; i < 25; ++i) CHECK_FALSE(h.relations_of(ids[i]).empty());
  CHECK(worker.metric("task_fgac_dual_write_failures_total") == 0);
}
