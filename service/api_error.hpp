// Failures the API reports to clients, with their status; everything else is
// mapped in one place (error_mapping.cpp).
#pragma once

#include <stdexcept>
#include <string>

namespace fgac::api {

enum class ErrorKind {
  malformed,           // 400
  unauthenticated,     // 401
  forbidden,           // 403: may read the task, not do this to it
  not_found,           // 404
  method_not_allowed,  // 405
  conflict,            // 400: a duplicate name, as upstream (the client retries a 409)
  too_large,           // 413
  unsupported_media,   // 415
  invalid,             // 422
  unavailable,         // 503
};

class ApiError : public std::runtime_error {
 public:
  ApiError(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  [[nodiscard]] ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace fgac::api
