#include "service/error_mapping.hpp"

#include <pqxx/pqxx>

#include "common/log.hpp"
#include "common/pg_pool.hpp"
#include "service/api_error.hpp"

namespace fgac::api {
namespace {

// Upstream's words for a unique violation; a 400, never a 409, which the
// agentex client would retry twice.
constexpr std::string_view kDuplicateMessage =
    "Item already exists. Please check all unique constraints and try again.";

http::status status_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::malformed:
      return http::status::bad_request;
    case ErrorKind::unauthenticated:
      return http::status::unauthorized;
    case ErrorKind::forbidden:
      return http::status::forbidden;
    case ErrorKind::not_found:
      return http::status::not_found;
    case ErrorKind::method_not_allowed:
      return http::status::method_not_allowed;
    case ErrorKind::conflict:
      return http::status::bad_request;
    case ErrorKind::too_large:
      return http::status::payload_too_large;
    case ErrorKind::unsupported_media:
      return http::status::unsupported_media_type;
    case ErrorKind::invalid:
      return http::status::unprocessable_entity;
    case ErrorKind::unavailable:
      return http::status::service_unavailable;
  }
  return http::status::internal_server_error;
}

HttpResponse unavailable(std::string_view message) {
  auto res = json_error(http::status::service_unavailable, message);
  res.set(http::field::retry_after, std::to_string(kRetryAfterSeconds));
  return res;
}

}  // namespace

HttpResponse error_response(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const ApiError& e) {
    if (e.kind() == ErrorKind::unavailable) return unavailable(e.what());
    return json_error(status_of(e.kind()), e.what());
  } catch (const pqxx::unique_violation& e) {
    log::info("unique violation", {{"error", e.what()}});
    return json_error(http::status::bad_request, kDuplicateMessage);
  } catch (const pqxx::foreign_key_violation& e) {
    log::info("foreign key violation", {{"error", e.what()}});
    return json_error(http::status::unprocessable_entity, "a referenced item does not exist");
  } catch (const pqxx::in_doubt_error& e) {
    // The commit may or may not have happened: never claim either way.
    log::error("transaction outcome unknown", {{"error", e.what()}});
    return unavailable("database unavailable; the outcome is unknown, retry safely");
  } catch (const std::exception& e) {
    if (is_database_unavailable(e)) {
      log::warn("database unavailable", {{"error", e.what()}});
      return unavailable("database unavailable");
    }
    log::error("unexpected error", {{"error", e.what()}});
    return json_error(http::status::internal_server_error, "internal error");
  }
}

}  // namespace fgac::api
