// FGAC_TASKS_ENFORCE against Postgres, the real SpiceDB engine (through the
// reference authz server) and a real outbox worker: the task API in this
// process, the worker as a child process, one graph between them.
#include <doctest/doctest.h>

#include <set>
#include <sstream>

#include "tests/support/api_fixture.hpp"
#include "tests/worker/harness.hpp"

using namespace fgac::testing;
using nlohmann::json;
using std::chrono::seconds;

namespace {

constexpr const char* kAlice = "dev-user-token";
constexpr const char* kBob = "dev-user2-token";
constexpr const char* kCi = "dev-sa-token";
constexpr const char* kRandomTask = "/tasks/123e4567-e89b-42d3-a456-426614174000";

// A check deadline that an ASan build on a loaded 2-core machine meets (the
// production default of 1 s is not what these tests are about).
constexpr std::chrono::milliseconds kTestCheckTimeout{5000};

ApiOptions enforcing(const OutboxHarness& h, fgac::api::EnforceMode mode) {
  ApiOptions o;
  o.database_url = h.database_url();
  o.configure = [mode](fgac::api::ApiConfig& c) {
    c.enforce = mode;
    c.checker.timeout = kTestCheckTimeout;
  };
  return o;
}

// enforce with FGAC_TASKS_LIST_MODE=lookup and this lookup cap.
ApiOptions looking_up(const OutboxHarness& h, int lookup_limit, const AuthzServer* authz = nullptr) {
  ApiOptions o;
  o.database_url = h.database_url();
  const std::optional<std::string> authz_url = authz ? std::optional(authz->url()) : std::nullopt;
  o.configure = [lookup_limit, authz_url](fgac::api::ApiConfig& c) {
    if (authz_url) c.authn->url = *authz_url;
    c.enforce = fgac::api::EnforceMode::enforce;
    c.checker.timeout = kTestCheckTimeout;
    c.list_mode = fgac::api::ListMode::lookup;
    c.list_lookup_limit = lookup_limit;
  };
  return o;
}

// The authz server's check calls for a task, oldest first.
json checks_of(OutboxHarness& h, const std::string& task_id) {
  return http_call(h.authz().port(), "GET", "/_admin/calls?op=check&resource_id=" + task_id).json()["calls"];
}

void relationship(AuthzServer& authz, const std::string& method, const std::string& task_id,
                  const std::string& relation, const std::string& user) {
  json body{{"resource_type", "task"},
            {"resource_id", task_id},
            {"relation", relation},
            {"subject_type", "user"},
            {"subject_id", user}};
  auto r = http_call(authz.port(), method, "/_admin/relationships", body.dump());
  REQUIRE_MESSAGE(r.status == 200, r.body);
}

double api_metric(ApiFixture& api, const std::string& name, const std::vector<std::string>& labels) {
  const auto text = http_call(api.monitor_port(), "GET", "/metrics").body;
  double sum = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(name + "{") && !line.starts_with(name + " ")) continue;
    bool all = true;
    for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
    if (all) sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

std::string create(ApiFixture& api, const std::string& agent, const std::string& name, const char* token = kAlice) {
  return api.task(agent, name, token)["id"].get<std::string>();
}

// Alice's task on a new agent, registered in SpiceDB by a worker that then stops.
std::string registered_task(OutboxHarness& h, ApiFixture& api, const std::string& agent, const std::string& name) {
  api.agent(agent);
  auto id = create(api, agent, name);
  h.deliver_pending("w-" + agent);
  return id;
}

}  // namespace

TEST_CASE("enforce: a pending task is its creator's at once; a stranger's 404 is a random id's, byte for byte") {
  OutboxHarness h;
  ApiFixture api(enforcing(h, fgac::api::EnforceMode::enforce));
  api.agent("enf-pending");
  const auto id = create(api, "enf-pending", "pending-1");  // no worker runs: it stays pending
  CHECK(api.call("GET", "/tasks/" + id, "", {}, kAlice).status == 200);
  CHECK(api.call("GET", "/tasks/name/pending-1", "", {}, kAlice).status == 200);
  const auto random = api.call("GET", kRandomTask, "", {}, kBob);
  REQUIRE(random.status == 404);
  for (const auto& request : std::vector<std::pair<std::string, std::string>>{{"GET", "/tasks/" + id},
                                                                              {"GET", "/tasks/name/pending-1"},
                                                                              {"DELETE", "/tasks/" + id},
                                                                              {"DELETE", "/tasks/name/pending-1"},
                                                                              {"PUT", "/tasks/" + id},
                                                                              {"POST", "/tasks/" + id + "/complete"}}) {
    const auto& [method, target] = request;
    CAPTURE(request.first);  // doctest's CAPTURE lambda cannot capture a structured binding
    CAPTURE(request.second);
    auto r = api.call(method, target, method == "PUT" || method == "POST" ? "{}" : "", {}, kBob);
    CHECK(r.status == 404);
    CHECK(r.body == random.body);
  }
  // A service account is a stranger too; the pending rule made no check call.
  CHECK(api.call("GET", "/tasks/" + id, "", {}, kCi).status == 404);
  CHECK(checks_of(h, id).empty());
  // task/create on Alice's name hands Bob nothing: a duplicate's answer.
  auto rpc =
      api.post("/agents/name/enf-pending/rpc", {{"method", "task/create"}, {"params", {{"name", "pending-1"}}}}, kBob);
  REQUIRE(rpc.status == 200);
  CHECK(rpc.json()["result"].is_null());
  CHECK(rpc.json()["error"]["message"] == "Item already exists. Please check all unique constraints and try again.");
  // Still Alice's, untouched, and she can act on it.
  CHECK(api.call("PUT", "/tasks/" + id, R"({"merge_params":{"a":1}})", {}, kAlice).status == 200);
  CHECK(api.call("DELETE", "/tasks/name/pending-1", "", {}, kAlice).status == 200);
  CHECK(api_metric(api, "task_authz_decisions_total", {R"(source="pending_creator")", R"(decision="deny")"}) > 0);
}

TEST_CASE(
    "enforce: after sync the check carries the zedtoken; a revoke wins at once; editors update but do not delete") {
  OutboxHarness h;
  ApiFixture api(enforcing(h, fgac::api::EnforceMode::enforce));
  const auto id = registered_task(h, api, "enf-sync", "synced-1");
  const auto zedtoken = h.text("SELECT authz_zedtoken FROM tasks WHERE id = '" + id + "'");
  REQUIRE(zedtoken);

  REQUIRE(api.call("GET", "/tasks/" + id, "", {}, kAlice).status == 200);
  auto checks = checks_of(h, id);
  REQUIRE(checks.size() == 1);
  CHECK(checks[0]["operation"] == "read");
  CHECK(checks[0]["consistency"] == "at_least_as_fresh");
  CHECK(checks[0]["outcome"] == "allowed");

  // An editor updates at once (fully consistent), and reads once SpiceDB's
  // snapshot covers the grant: a read is only "at least as fresh" as the
  // task's register, so it may lag a later grant or revoke by SpiceDB's
  // revision quantization (5 s by default). A delete or cancel is a 403.
  relationship(h.authz(), "POST", id, "editor", "user-bob");
  CHECK(api.call("PUT", "/tasks/" + id, R"({"merge_params":{"by":"bob"}})", {}, kBob).status == 200);
  CHECK(eventually([&] { return api.call("GET", "/tasks/" + id, "", {}, kBob).status == 200; }, seconds(10)));
  CHECK(api.call("DELETE", "/tasks/" + id, "", {}, kBob).status == 403);
  CHECK(api.call("POST", "/tasks/" + id + "/cancel", "{}", {}, kBob).status == 403);
  bool fully_consistent_update = false;
  for (const auto& c : checks_of(h, id)) {
    if (c["operation"] == "update") fully_consistent_update = c["consistency"] == "fully_consistent";
  }
  CHECK(fully_consistent_update);
  // A stranger still gets the random id's 404.
  const auto random = api.call("GET", kRandomTask, "", {}, kCi);
  const auto stranger = api.call("GET", "/tasks/" + id, "", {}, kCi);
  CHECK(stranger.status == 404);
  CHECK(stranger.body == random.body);

  // Deleting Alice's owner relationship: her next update is refused at once
  // (fully consistent: a revoke always wins; 403 or 404 as her read lags or
  // not), and her reads follow within SpiceDB's window. Nothing is cached here.
  relationship(h.authz(), "DELETE", id, "owner", "user-alice");
  const auto update = api.call("PUT", "/tasks/" + id, R"({"merge_params":{"by":"alice"}})", {}, kAlice);
  CHECK((update.status == 403 || update.status == 404));
  CHECK(api_metric(api, "task_authz_creator_denied_total", {R"(mode="enforce")"}) >= 1);
  HttpResult revoked;
  CHECK(eventually(
      [&] {
        revoked = api.call("GET", "/tasks/" + id, "", {}, kAlice);
        return revoked.status == 404;
      },
      seconds(10)));
  CHECK(revoked.body == random.body);
  CHECK(api.call("GET", "/tasks/" + id, "", {}, kBob).status == 200);
}

TEST_CASE("enforce, FGAC_TASKS_READ_CONSISTENCY=fully_consistent: a revoke or a grant shows on the very next read") {
  OutboxHarness h;
  auto options = enforcing(h, fgac::api::EnforceMode::enforce);
  options.configure = [](fgac::api::ApiConfig& c) {
    c.enforce = fgac::api::EnforceMode::enforce;
    c.checker.timeout = kTestCheckTimeout;
    c.checker.reads = fgac::api::ReadConsistency::fully_consistent;
  };
  ApiFixture api(options);
  const auto id = registered_task(h, api, "enf-consistent", "consistent-1");
  REQUIRE(api.call("GET", "/tasks/" + id, "", {}, kAlice).status == 200);
  CHECK(checks_of(h, id).back()["consistency"] == "fully_consistent");
  relationship(h.authz(), "POST", id, "editor", "user-bob");
  CHECK(api.call("GET", "/tasks/" + id, "", {}, kBob).status == 200);
  relationship(h.authz(), "DELETE", id, "owner", "user-alice");
  const auto random = api.call("GET", kRandomTask, "", {}, kAlice);
  const auto revoked = api.call("GET", "/tasks/" + id, "", {}, kAlice);
  CHECK(revoked.status == 404);
  CHECK(revoked.body == random.body);
}

TEST_CASE("enforce: lists hold exactly the caller's tasks, pending ones included, and page exactly") {
  OutboxHarness h;
  ApiFixture api(enforcing(h, fgac::api::EnforceMode::enforce));
  api.agent("enf-list");
  std::set<std::string> alices;
  for (int i = 0; i < 5; ++i) alices.insert(create(api, "enf-list", "a-" + std::to_string(i)));
  for (int i = 0; i < 3; ++i) (void)create(api, "enf-list", "b-" + std::to_string(i), kBob);
  std::set<std::string> seen;
  for (int page = 1; page <= 3; ++page) {
    auto r = api.call("GET", "/tasks?limit=2&page_number=" + std::to_string(page), "", {}, kAlice);
    REQUIRE(r.status == 200);
    CHECK(r.json().size() == (page < 3 ? 2U : 1U));
    for (const auto& t : r.json()) seen.insert(t["id"].get<std::string>());
  }
  CHECK(seen == alices);
  CHECK(api.call("GET", "/tasks", "", {}, kBob).json().size() == 3);
  CHECK(api.call("GET", "/tasks", "", {}, kCi).json().empty());
  // Filters narrow within the caller's tasks; asking for Bob's gets Alice nothing.
  CHECK(api.call("GET", "/tasks?creator_user_id=user-bob", "", {}, kAlice).json().empty());
}

TEST_CASE("enforce, FGAC_TASKS_LIST_MODE=lookup: lists add the tasks shared with the caller; too many is a 503") {
  OutboxHarness h;
  // A graph of its own: in the shared one, the other tests' tasks of the same
  // three development principals would exceed the lookup cap.
  AuthzServer authz;
  ApiFixture api(looking_up(h, 1000, &authz));
  api.agent("enf-lookup");
  const auto shared = create(api, "enf-lookup", "shared");
  const auto kept = create(api, "enf-lookup", "kept");
  const auto bobs = create(api, "enf-lookup", "bobs", kBob);
  {
    WorkerProcess worker(h.database_url(), authz.url(), "w-lookup", {});
    REQUIRE(h.drained(seconds(30)));
  }
  const auto pending = create(api, "enf-lookup", "pending-b", kBob);  // not registered: the creator rule lists it
  relationship(authz, "POST", shared, "editor", "user-bob");
  auto ids_of = [](const HttpResult& r) {
    REQUIRE_MESSAGE(r.status == 200, r.body);
    std::set<std::string> out;
    for (const auto& t : r.json()) out.insert(t["id"].get<std::string>());
    return out;
  };
  std::set<std::string> bob_sees;
  CHECK(eventually(
      [&] {
        bob_sees = ids_of(api.call("GET", "/tasks", "", {}, kBob));
        return bob_sees.size() == 3;
      },
      seconds(10)));
  CHECK(bob_sees == std::set<std::string>{shared, bobs, pending});
  CHECK(ids_of(api.call("GET", "/tasks", "", {}, kAlice)) == std::set<std::string>{shared, kept});
  CHECK(api.call("GET", "/tasks?limit=1&page_number=3", "", {}, kBob).json().size() == 1);
  CHECK(api.call("GET", "/tasks", "", {}, kCi).json().empty());
}

TEST_CASE("enforce, lookup: a lookup that would be truncated answers 503, not a short page") {
  OutboxHarness h;
  ApiFixture api(looking_up(h, 1));
  api.agent("enf-trunc");
  (void)create(api, "enf-trunc", "t-1");
  (void)create(api, "enf-trunc", "t-2");
  h.deliver_pending("w-trunc");
  auto r = api.call("GET", "/tasks", "", {}, kAlice);
  CHECK(r.status == 503);
  CHECK(r.headers.contains("retry-after"));
}

TEST_CASE("enforce: the authz service failing is a 503 for a registered task and still a 200 for a pending one") {
  OutboxHarness h;
  ApiFixture api(enforcing(h, fgac::api::EnforceMode::enforce));
  const auto registered = registered_task(h, api, "enf-fault", "registered-1");
  const auto pending = create(api, "enf-fault", "pending-2");  // the worker is gone
  h.authz().set_faults({{"status", 503}, {"ops", {"check"}}});
  const auto failed = api.call("GET", "/tasks/" + registered, "", {}, kAlice);
  CHECK(failed.status == 503);
  CHECK(failed.headers.contains("retry-after"));
  CHECK(api.call("GET", "/tasks/" + pending, "", {}, kAlice).status == 200);
  // Enough failures open the breaker: answered at once, without a call.
  for (int i = 0; i < 5; ++i) (void)api.call("GET", "/tasks/" + registered, "", {}, kAlice);
  CHECK(api_metric(api, "task_authz_breaker_open", {}) == 1);
  CHECK(api_metric(api, "task_authz_checks_total", {R"(exception_class="breaker_open")"}) >= 1);
  h.authz().clear_faults();
  CHECK(eventually([&] { return api.call("GET", "/tasks/" + registered, "", {}, kAlice).status == 200; }, seconds(5)));
  CHECK(api_metric(api, "task_authz_breaker_open", {}) == 0);
}

TEST_CASE("shadow: everyone gets 200, the would-be denials are counted; off makes no check call") {
  OutboxHarness h;
  {
    ApiFixture api(enforcing(h, fgac::api::EnforceMode::shadow));
    const auto id = registered_task(h, api, "shadow-agent", "shadow-1");
    CHECK(api.call("GET", "/tasks/" + id, "", {}, kBob).status == 200);
    CHECK(api.call("PUT", "/tasks/" + id, "{}", {}, kBob).status == 200);
    CHECK(api.call("GET", "/tasks/" + id, "", {}, kAlice).status == 200);
    CHECK(eventually(
        [&] {
          return api_metric(api, "task_authz_decisions_total",
                            {R"(mode="shadow")", R"(decision="deny")", R"(source="spicedb")"}) >= 2 &&
                 api_metric(api, "task_authz_decisions_total", {R"(mode="shadow")", R"(decision="allow")"}) >= 1;
        },
        seconds(5)));
    CHECK(api_metric(api, "task_authz_creator_denied_total", {R"(mode="shadow")"}) == 0);
    CHECK(api.call("DELETE", "/tasks/" + id, "", {}, kBob).status == 200);  // shadow denies nothing
  }
  ApiFixture off(enforcing(h, fgac::api::EnforceMode::off));
  const auto id = registered_task(h, off, "off-agent", "off-1");
  CHECK(off.call("GET", "/tasks/" + id, "", {}, kBob).status == 200);
  CHECK(checks_of(h, id).empty());
  CHECK(api_metric(off, "task_authz_decisions_total", {}) == 0);
}

TEST_CASE("enforce: 500 creates each followed at once by its creator's GET, zero false 404s") {
  OutboxHarness h;
  ApiFixture api(enforcing(h, fgac::api::EnforceMode::enforce));
  api.agent("enf-burst");
  auto worker = h.start_worker("w-burst");
  int false_404 = 0;
  for (int i = 0; i < 500; ++i) {
    const auto id = create(api, "enf-burst", "burst-" + std::to_string(i));
    if (api.call("GET", "/tasks/" + id, "", {}, kAlice).status != 200) ++false_404;
  }
  CHECK(false_404 == 0);
  REQUIRE(h.drained(seconds(30)));
}
