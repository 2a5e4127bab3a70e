#include "outbox/principal.hpp"

namespace fgac::outbox {

nlohmann::json credential_free_principal(const PrincipalFields& fields) {
  nlohmann::json out = nlohmann::json::object();
  if (fields.principal_type) out["principal_type"] = *fields.principal_type;
  if (fields.user_id) out["user_id"] = *fields.user_id;
  if (fields.service_account_id) out["service_account_id"] = *fields.service_account_id;
  if (fields.account_id) out["account_id"] = *fields.account_id;
  return out;
}

PrincipalFields creator_principal(const std::optional<std::string>& user_id,
                                  const std::optional<std::string>& service_account_id) {
  if (user_id) return {.principal_type = "user", .user_id = user_id};
  if (service_account_id) return {.principal_type = "service_account", .service_account_id = service_account_id};
  return {};
}

}  // namespace fgac::outbox
