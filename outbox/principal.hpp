// The principal an outbox row carries and register/deregister send: the
// credential-free form, built in one place for the API (from the caller's
// authn answer) and for taskctl (from a task's creator columns).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace fgac::outbox {

struct PrincipalFields {
  std::optional<std::string> principal_type;
  std::optional<std::string> user_id;
  std::optional<std::string> service_account_id;
  std::optional<std::string> account_id;
};

// Only these four fields, each when present; never a token or a key.
nlohmann::json credential_free_principal(const PrincipalFields& fields);

// From a task's creator columns (the account is not recorded on the task, so
// no tenant): a user, else a service account, else the empty object.
PrincipalFields creator_principal(const std::optional<std::string>& user_id,
                                  const std::optional<std::string>& service_account_id);

}  // namespace fgac::outbox
