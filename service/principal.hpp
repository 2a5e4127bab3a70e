// The caller's identity as /v1/authn returns it, and what the task records of it.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "outbox/principal.hpp"

namespace fgac::api {

// The four identity fields (outbox/principal.hpp), and whether the answer carried more.
struct Principal : outbox::PrincipalFields {
  // True when the authn answer carried secrets (tokens, keys): never cached.
  bool carries_credentials = false;
};

// Parses an authn answer. Missing, null, empty or wrongly typed fields count
// as absent; the function never throws and never trusts anything but strings.
Principal parse_principal(const nlohmann::json& body);

// Who created a task: exactly one of the two, or neither.
struct Creator {
  std::optional<std::string> user_id;
  std::optional<std::string> service_account_id;
  [[nodiscard]] const char* kind() const;  // "user" | "service_account" | "none"
};

// A user principal (by principal_type, or by carrying only a user id) yields a
// user creator; a service account yields a service-account creator; an
// ambiguous or empty principal yields none, never both.
Creator creator_of(const std::optional<Principal>& principal);

// The credential-free form stored in the outbox and sent to register/deregister.
nlohmann::json outbox_principal(const std::optional<Principal>& principal);

}  // namespace fgac::api
