// The one place where failures become HTTP statuses. Internal detail is
// logged; the client gets a safe message.
#pragma once

#include <exception>

#include "common/http_server.hpp"

namespace fgac::api {

HttpResponse error_response(const std::exception_ptr& error);

}  // namespace fgac::api
