# Generates a C++ source holding service/openapi.json, which the task API
# serves at GET /openapi.json (one binary, no file lookup at run time).
file(READ "${INPUT}" content)
set(body "// Generated from service/openapi.json by embed_openapi.cmake. Do not edit.\n#include \"service/openapi.hpp\"\n\nnamespace fgac::api {\n\nstd::string_view openapi_document() {\n  static constexpr std::string_view kDocument = R\"fgacjson(${content})fgacjson\";\n  return kDocument;\n}\n\n}  // namespace fgac::api\n")
file(WRITE "${OUTPUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
