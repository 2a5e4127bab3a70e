// Failures the API reports to clients, with their status; everything else is
// mapped in one place (error_mapping.cpp).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace fgac::api {

// Each kind is the HTTP status it answers.
enum class ErrorKind : unsigned {
  malformed = 400,  // also a duplicate name, as upstream answers it (kDuplicateMessage)
  unauthenticated = 401,
  forbidden = 403,  // may read the task, not do this to it
  not_found = 404,
  method_not_allowed = 405,
  too_large = 413,
  unsupported_media = 415,
  invalid = 422,
  unavailable = 503,
};

// Upstream's words for a duplicate name; a 400, never a 409, which the agentex
// client would retry twice.
inline constexpr std::string_view kDuplicateMessage =
    "Item already exists. Please check all unique constraints and try again.";

class ApiError : public std::runtime_error {
 public:
  ApiError(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  [[nodiscard]] ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace fgac::api
