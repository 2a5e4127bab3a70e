#include "service/principal.hpp"

#include <array>
#include <string_view>

namespace fgac::api {
namespace {

std::optional<std::string> string_field(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string()) return std::nullopt;
  auto value = it->get<std::string>();
  if (value.empty()) return std::nullopt;
  return value;
}

// Field names that mark an authn answer as holding a secret.
constexpr std::array<std::string_view, 8> kCredentialFields{"api_key",  "token",  "access_token", "refresh_token",
                                                            "password", "secret", "credentials",  "authorization"};

}  // namespace

Principal parse_principal(const nlohmann::json& body) {
  Principal p;
  if (!body.is_object()) return p;
  p.principal_type = string_field(body, "principal_type");
  p.user_id = string_field(body, "user_id");
  p.service_account_id = string_field(body, "service_account_id");
  p.account_id = string_field(body, "account_id");
  for (const auto& [key, value] : body.items()) {
    for (auto field : kCredentialFields) {
      if (key.find(field) != std::string::npos && !value.is_null()) p.carries_credentials = true;
    }
  }
  return p;
}

const char* Creator::kind() const {
  if (user_id) return "user";
  if (service_account_id) return "service_account";
  return "none";
}

Creator creator_of(const std::optional<Principal>& principal) {
  Creator c;
  if (!principal) return c;
  const auto& type = principal->principal_type;
  if (type == "user") {
    c.user_id = principal->user_id;
  } else if (type == "service_account") {
    c.service_account_id = principal->service_account_id;
  } else if (!type) {
    // No declared type: only an unambiguous principal names a creator.
    if (principal->user_id && !principal->service_account_id) c.user_id = principal->user_id;
    if (principal->service_account_id && !principal->user_id) c.service_account_id = principal->service_account_id;
  }
  return c;
}

nlohmann::json outbox_principal(const std::optional<Principal>& principal) {
  if (!principal) return nlohmann::json::object();
  return outbox::credential_free_principal(*principal);
}

}  // namespace fgac::api
