// The task API's OpenAPI document (service/openapi.json, embedded at build).
#pragma once

#include <string_view>

namespace fgac::api {

std::string_view openapi_document();

}  // namespace fgac::api
