#include <doctest/doctest.h>

#include "service/principal.hpp"

using fgac::api::creator_of;
using fgac::api::outbox_principal;
using fgac::api::parse_principal;
using nlohmann::json;

TEST_CASE("principal: a user principal makes the user the creator") {
  auto p = parse_principal(json{{"principal_type", "user"}, {"user_id", "user-alice"}, {"account_id", "acct-dev"}});
  auto c = creator_of(p);
  CHECK(c.user_id == "user-alice");
  CHECK_FALSE(c.service_account_id);
  CHECK(std::string(c.kind()) == "user");
}

TEST_CASE("principal: a service account makes the service account the creator") {
  auto c = creator_of(parse_principal(json{{"principal_type", "service_account"}, {"service_account_id", "sa-ci"}}));
  CHECK(c.service_account_id == "sa-ci");
  CHECK_FALSE(c.user_id);
  CHECK(std::string(c.kind()) == "service_account");
}

TEST_CASE("principal: a declared type wins over stray ids, so never both creators") {
  auto c =
      creator_of(parse_principal(json{{"principal_type", "user"}, {"user_id", "u1"}, {"service_account_id", "sa1"}}));
  CHECK(c.user_id == "u1");
  CHECK_FALSE(c.service_account_id);
}

TEST_CASE("principal: without a type, only an unambiguous principal names a creator") {
  CHECK(creator_of(parse_principal(json{{"user_id", "u1"}})).user_id == "u1");
  CHECK(creator_of(parse_principal(json{{"service_account_id", "s1"}})).service_account_id == "s1");
  auto both = creator_of(parse_principal(json{{"user_id", "u1"}, {"service_account_id", "s1"}}));
  CHECK_FALSE(both.user_id);
  CHECK_FALSE(both.service_account_id);
  CHECK(std::string(both.kind()) == "none");
}

TEST_CASE("principal: missing, null, empty or wrongly typed fields count as absent and never throw") {
  for (const auto& body :
       {json::object(), json{{"user_id", nullptr}, {"principal_type", "user"}},
        json{{"user_id", 42}, {"principal_type", "user"}}, json{{"user_id", ""}, {"principal_type", "user"}},
        json{{"user_id", json::array({"u"})}, {"principal_type", "user"}}, json(nullptr), json("user"), json::array(),
        json{{"principal_type", 7}, {"user_id", "u1"}}}) {
    CAPTURE(body.dump());
    fgac::api::Principal p;
    CHECK_NOTHROW(p = parse_principal(body));
    auto c = creator_of(p);
    CHECK_FALSE((c.user_id && c.service_account_id));
  }
  CHECK_FALSE(creator_of(parse_principal(json{{"user_id", 42}, {"principal_type", "user"}})).user_id);
  // A non-string type is absent: then the lone user id is unambiguous.
  CHECK(creator_of(parse_principal(json{{"principal_type", 7}, {"user_id", "u1"}})).user_id == "u1");
}

TEST_CASE("principal: an unknown principal type names no creator") {
  auto c = creator_of(parse_principal(json{{"principal_type", "robot"}, {"user_id", "u1"}}));
  CHECK_FALSE(c.user_id);
  CHECK_FALSE(c.service_account_id);
}

TEST_CASE("principal: no principal (auth disabled) means no creator") {
  CHECK(std::string(creator_of(std::nullopt).kind()) == "none");
  CHECK(outbox_principal(std::nullopt) == json::object());
}

TEST_CASE("principal: credentials are detected and never stored in the outbox form") {
  auto p = parse_principal(
      json{{"principal_type", "user"}, {"user_id", "u1"}, {"account_id", "a1"}, {"api_key", "secret"}, {"extra", "x"}});
  CHECK(p.carries_credentials);
  auto stored = outbox_principal(p);
  CHECK(stored == json{{"principal_type", "user"}, {"user_id", "u1"}, {"account_id", "a1"}});
  CHECK_FALSE(parse_principal(json{{"user_id", "u1"}}).carries_credentials);
  CHECK(parse_principal(json{{"user_id", "u1"}, {"access_token", "t"}}).carries_credentials);
}
