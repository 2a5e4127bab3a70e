#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "outbox_worker/authz_client.hpp"
#include "outbox_worker/outcome.hpp"
#include "outbox_worker/retry_policy.hpp"

using namespace fgac::worker;
using std::chrono::milliseconds;

TEST_CASE("outcome: the status table, exactly as DESIGN.md gives it") {
  struct Row {
    Op op;
    std::optional<unsigned> status;
    Action action;
    std::string_view cls;
  };
  const Row table[] = {
      {Op::register_, 200, Action::success, ""},
      {Op::deregister, 200, Action::success, ""},
      {Op::register_, std::nullopt, Action::retry, kUnavailable},
      {Op::register_, 503, Action::retry, kUnavailable},
      {Op::register_, 408, Action::retry, kUnavailable},
      {Op::deregister, 499, Action::retry, kUnavailable},
      {Op::register_, 502, Action::retry, kGateway},
      {Op::deregister, 504, Action::retry, kGateway},
      {Op::register_, 401, Action::retry, kAuthentication},
      {Op::register_, 403, Action::retry, kAuthorization},
      {Op::register_, 429, Action::retry, kService},
      {Op::register_, 500, Action::retry, kService},
      {Op::register_, 599, Action::retry, kService},
      {Op::register_, 400, Action::dead_letter, kService},
      {Op::register_, 409, Action::dead_letter, kService},
      {Op::register_, 422, Action::dead_letter, kService},
      {Op::register_, 404, Action::dead_letter, kService},
      {Op::deregister, 404, Action::success, ""},
      {Op::deregister, 418, Action::dead_letter, kService},
  };
  for (const auto& row : table) {
    CAPTURE(row.status.value_or(0));
    CAPTURE(op_name(row.op));
    auto outcome = classify(row.op, row.status);
    CHECK(outcome.action == row.action);
    CHECK(outcome.exception_class == row.cls);
  }
}

TEST_CASE("outcome: credential and permission faults are never dead letters") {
  for (unsigned s : {401U, 403U}) {
    CHECK(classify(Op::register_, s).action == Action::retry);
    CHECK(classify(Op::deregister, s).action == Action::retry);
  }
}

TEST_CASE("retry: delays double from the base and stop at the cap") {
  RetrySettings s{milliseconds(200), milliseconds(60000)};
  CHECK(retry_delay(1, s, 0.0) == milliseconds(200));
  CHECK(retry_delay(2, s, 0.0) == milliseconds(400));
  CHECK(retry_delay(3, s, 0.0) == milliseconds(800));
  CHECK(retry_delay(20, s, 0.0) == milliseconds(60000));
}

TEST_CASE("retry: jitter takes up to kJitterFraction off, never adds") {
  RetrySettings s{milliseconds(1000), milliseconds(60000)};
  CHECK(retry_delay(1, s, 0.999999).count() >= static_cast<long long>(1000 * (1 - kJitterFraction)));
  CHECK(retry_delay(1, s, 0.5) == milliseconds(750));
  for (double r : {0.0, 0.1, 0.5, 0.9, 0.99}) {
    auto d = retry_delay(4, s, r);
    CHECK(d <= milliseconds(8000));
    CHECK(d >= milliseconds(4000));
  }
}

TEST_CASE("retry: huge attempt counts neither overflow nor exceed the cap") {
  RetrySettings s{milliseconds(200), milliseconds(60000)};
  for (long long attempt : {63LL, 64LL, 1000LL, 1LL << 40}) {
    CHECK(retry_delay(attempt, s, 0.0) == milliseconds(60000));
  }
  CHECK(retry_delay(0, s, 0.0) == milliseconds(200));
  CHECK(retry_delay(-5, s, 0.0) == milliseconds(200));
}

TEST_CASE("wire: register carries principal, resource and parent; deregister no parent") {
  ClaimedRow row;
  row.resource_type = "task";
  row.resource_id = "t1";
  row.parent_type = "agent";
  row.parent_id = "a1";
  row.principal = R"({"principal_type":"user","user_id":"user-alice"})";
  row.op = Op::register_;
  auto body = nlohmann::json::parse(authz_request_body(row));
  CHECK(body["principal"]["user_id"] == "user-alice");
  CHECK(body["resource"] == nlohmann::json{{"type", "task"}, {"selector", "t1"}});
  CHECK(body["parent"] == nlohmann::json{{"type", "agent"}, {"selector", "a1"}});
  row.op = Op::deregister;
  CHECK_FALSE(nlohmann::json::parse(authz_request_body(row)).contains("parent"));
  row.principal = "not json";
  CHECK(nlohmann::json::parse(authz_request_body(row))["principal"] == nlohmann::json::object());
}
