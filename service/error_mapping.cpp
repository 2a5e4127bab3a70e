#include "service/error_mapping.hpp"

#include <pqxx/pqxx>

#include "common/log.hpp"
#include "common/pg_pool.hpp"
#include "service/api_error.hpp"

namespace fgac::api {
namespace {

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
    return json_error(static_cast<http::status>(e.kind()), e.what());
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
