// The one place where failures become HTTP statuses. Internal detail is
// logged; the client gets a safe message.
#pragma once

#include <exception>

#include "common/http_server.hpp"

namespace fgac::api {

// What a 503 tells the client to wait: the causes (authn or database briefly
// away, a full pool) clear in about that long, and a retry is always safe.
inline constexpr int kRetryAfterSeconds = 1;

HttpResponse error_response(const std::exception_ptr& error);

}  // namespace fgac::api
