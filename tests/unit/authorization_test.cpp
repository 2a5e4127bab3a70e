// FGAC_TASKS_ENFORCE's pure parts: the route table's policies, the decision
// rule, the check request and the flag's configuration.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "service/authorization.hpp"
#include "service/authz_checker.hpp"
#include "service/config.hpp"
#include "service/routes.hpp"
#include "tests/unit/map_env.hpp"

using namespace fgac::api;

namespace {

Principal user(const std::string& id) {
  Principal p;
  p.principal_type = "user";
  p.user_id = id;
  return p;
}

Principal service_account(const std::string& id) {
  Principal p;
  p.principal_type = "service_account";
  p.service_account_id = id;
  return p;
}

TaskFacts task_by(std::optional<std::string> user_id, std::optional<std::string> sa_id, bool registered) {
  return {"t-1", std::move(user_id), std::move(sa_id), registered,
          registered ? std::optional<std::string>("zt") : std::nullopt};
}

}  // namespace

TEST_CASE("authorization: every route declares a policy, and each task route the operation of its effect") {
  for (const auto& spec : route_table()) {
    CAPTURE(spec.pattern);
    CHECK(spec.policy != Policy::unset);
  }
  auto policy = [](http::verb method, std::string_view target) { return match_route(method, target).policy; };
  const std::string id = "/tasks/123e4567-e89b-12d3-a456-426614174000";
  CHECK(policy(http::verb::get, id) == Policy::read);
  CHECK(policy(http::verb::get, "/tasks/name/x") == Policy::read);
  CHECK(policy(http::verb::head, id) == Policy::read);
  CHECK(policy(http::verb::put, id) == Policy::update);
  CHECK(policy(http::verb::put, "/tasks/name/x") == Policy::update);
  for (const char* action : {"complete", "fail", "interrupt", "terminate", "timeout"}) {
    CAPTURE(action);
    CHECK(policy(http::verb::post, id + "/" + action) == Policy::update);
  }
  CHECK(policy(http::verb::post, id + "/cancel") == Policy::cancel);
  CHECK(policy(http::verb::delete_, id) == Policy::delete_);
  CHECK(policy(http::verb::delete_, "/tasks/name/x") == Policy::delete_);
  CHECK(policy(http::verb::post, "/tasks") == Policy::authenticated);
  CHECK(policy(http::verb::get, "/tasks") == Policy::authenticated);
  CHECK(policy(http::verb::post, "/agents/name/a/rpc") == Policy::rpc_method);
  CHECK(policy(http::verb::get, "/openapi.json") == Policy::public_);
  CHECK(policy(http::verb::post, id + "/explode") == Policy::unset);  // no such route
}

TEST_CASE("authorization: no subject is denied, a pending task is its creator's alone, a registered one SpiceDB's") {
  const auto alice = user("user-alice");
  const auto bob = user("user-bob");
  const auto ci = service_account("sa-ci");
  // No user or service account on the principal (or no principal at all).
  Principal empty;
  for (const auto& who : {std::optional<Principal>{}, std::optional<Principal>{empty}}) {
    auto d = decide_locally(who, task_by("user-alice", std::nullopt, false));
    CHECK(d.allowed == false);
    CHECK(d.source == DecisionSource::no_subject);
  }
  // Pending: exactly the owner tuple the register will write.
  const auto pending = task_by("user-alice", std::nullopt, false);
  CHECK(decide_locally(alice, pending).allowed == true);
  CHECK(decide_locally(alice, pending).source == DecisionSource::pending_creator);
  CHECK(decide_locally(bob, pending).allowed == false);
  CHECK(decide_locally(ci, pending).allowed == false);
  // A service account with the user's id string is not that user.
  CHECK(decide_locally(service_account("user-alice"), pending).allowed == false);
  CHECK(decide_locally(ci, task_by(std::nullopt, "sa-ci", false)).allowed == true);
  // No creator recorded: nobody.
  CHECK(decide_locally(alice, task_by(std::nullopt, std::nullopt, false)).allowed == false);
  // Registered: ask SpiceDB, even for the creator (a revoke must win).
  const auto registered = task_by("user-alice", std::nullopt, true);
  CHECK_FALSE(decide_locally(alice, registered).allowed.has_value());
  CHECK(decide_locally(alice, registered).source == DecisionSource::spicedb);
  CHECK(is_creator(alice, registered));
  CHECK_FALSE(is_creator(bob, registered));
}

TEST_CASE("authorization: a read is at least as fresh as the register, every other operation fully consistent") {
  const auto task = task_by("user-alice", std::nullopt, true);
  CHECK(check_zedtoken(Operation::read, task) == "zt");
  for (auto op : {Operation::update, Operation::cancel, Operation::delete_}) CHECK_FALSE(check_zedtoken(op, task));
  CHECK_FALSE(check_zedtoken(Operation::read, task, ReadConsistency::fully_consistent));
  CHECK(parse_read_consistency("fully_consistent") == ReadConsistency::fully_consistent);
  CHECK_FALSE(parse_read_consistency("strong"));
  CHECK(consistency_name(std::string("zt")) == "at_least_as_fresh");
  CHECK(consistency_name(std::nullopt) == "fully_consistent");
  auto body = nlohmann::json::parse(check_request_body(user("user-alice"), Operation::read, task));
  CHECK(body["operation"] == "read");
  CHECK(body["resource"] == nlohmann::json{{"type", "task"}, {"selector", "t-1"}});
  CHECK(body["zedtoken"] == "zt");
  CHECK(body["principal"]["user_id"] == "user-alice");
  auto del = nlohmann::json::parse(check_request_body(user("user-alice"), Operation::delete_, task));
  CHECK_FALSE(del.contains("zedtoken"));
  // The principal sent is credential-free.
  auto with_token = user("user-alice");
  with_token.carries_credentials = true;
  CHECK(nlohmann::json::parse(check_request_body(with_token, Operation::read, task))["principal"].size() <= 4);
}

TEST_CASE("authorization: FGAC_TASKS_ENFORCE is off by default, and a bad value or no authn stops the API") {
  using fgac::testing::MapEnv;
  const std::map<std::string, std::string> base{{"DATABASE_URL", "postgresql://x/y"},
                                                {"AGENTEX_AUTH_URL", "http://127.0.0.1:1"}};
  CHECK(load_api_config(MapEnv(base)).enforce == EnforceMode::off);
  for (auto [value, mode] : {std::pair{"shadow", EnforceMode::shadow}, std::pair{"enforce", EnforceMode::enforce}}) {
    auto env = base;
    env["FGAC_TASKS_ENFORCE"] = value;
    CHECK(load_api_config(MapEnv(env)).enforce == mode);
  }
  auto bad = base;
  bad["FGAC_TASKS_ENFORCE"] = "on";
  CHECK_THROWS_WITH_AS(load_api_config(MapEnv(bad)), doctest::Contains("FGAC_TASKS_ENFORCE=on"), fgac::ConfigError);
  std::map<std::string, std::string> no_auth{
      {"DATABASE_URL", "postgresql://x/y"}, {"AUTH_DISABLED", "true"}, {"FGAC_TASKS_ENFORCE", "shadow"}};
  CHECK_THROWS_WITH_AS(load_api_config(MapEnv(no_auth)), doctest::Contains("AUTH_DISABLED"), fgac::ConfigError);
  CHECK(parse_enforce_mode("enforce") == EnforceMode::enforce);
  CHECK_FALSE(parse_enforce_mode("Enforce"));
}
