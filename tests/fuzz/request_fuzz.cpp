// libFuzzer target over the API's request parsing and validation: bodies,
// JSON-RPC envelopes, query strings, paths, authn answers and HTTP request
// framing (Beast's parser with the server's limits, then our framing rules).
// Every input must either parse or fail with an ApiError; anything else (a
// crash, another exception, a sanitizer report) is a bug. Structured inputs
// reach what random bytes rarely do: the input wrapped in thousands of
// nesting levels, and the input as the body of a chunked request.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>

#include "common/http_framing.hpp"
#include "common/text.hpp"
#include "service/principal.hpp"
#include "service/requests.hpp"
#include "service/routes.hpp"

namespace {

template <class Fn>
void expect_parse_or_api_error(Fn fn) {
  try {
    fn();
  } catch (const fgac::api::ApiError&) {  // NOLINT(bugprone-empty-catch): the expected rejection
  }
}

// The bytes as an HTTP request, through Beast's parser with the server's limits.
void parse_as_request(std::string_view bytes) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(1024 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  while (!bytes.empty() && !ec) {
    const auto used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec == http::error::need_more) break;
    if (used == 0) break;
    bytes.remove_prefix(used);
  }
  if (parser.is_header_done()) (void)fgac::framing_error(parser.get());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fgac::api;
  const std::string_view input(reinterpret_cast<const char*>(data), size);  // NOLINT
  expect_parse_or_api_error([&] { (void)parse_create_task(input); });
  expect_parse_or_api_error([&] { (void)parse_create_agent(input); });
  expect_parse_or_api_error([&] { (void)parse_register_agent(input); });
  expect_parse_or_api_error([&] { (void)parse_update_task(input); });
  expect_parse_or_api_error([&] { (void)parse_transition_reason(input, *transition_for("fail")); });
  expect_parse_or_api_error([&] {
    auto rpc = parse_rpc(input);
    (void)parse_rpc_task_create(rpc.params, AgentRef{std::nullopt, "agent"});
  });
  expect_parse_or_api_error([&] { (void)parse_rpc_task_ref(parse_rpc(input).params); });
  expect_parse_or_api_error([&] { (void)parse_task_filter(parse_query(input)); });
  expect_parse_or_api_error([&] { (void)parse_agent_filter(parse_query(input)); });
  expect_parse_or_api_error([&] { (void)parse_relationships(parse_query(input)); });
  expect_parse_or_api_error([&] { (void)match_route(boost::beast::http::verb::get, input); });
  expect_parse_or_api_error([&] { (void)match_route(boost::beast::http::verb::post, input); });
  // Deep nesting around whatever the fuzzer found (the first byte picks the depth).
  if (!input.empty()) {
    const std::size_t levels = static_cast<std::size_t>(static_cast<unsigned char>(input[0])) * 400;
    const std::string nested = R"({"agent_name":"a","params":{"x":)" + std::string(levels, '[') +
                               std::string(input.substr(1)) + std::string(levels, ']') + "}}";
    expect_parse_or_api_error([&] { (void)parse_create_task(nested); });
  }
  // As a header section and as the body of a chunked request.
  parse_as_request(input);
  parse_as_request("POST /tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(input));
  // Whatever storable_text makes of it is valid UTF-8 within its bound.
  if (!fgac::is_valid_utf8(fgac::storable_text(input, 64))) __builtin_trap();
  auto json = nlohmann::json::parse(input, nullptr, false);
  if (!json.is_discarded()) {
    auto principal = parse_principal(json);
    auto creator = creator_of(principal);
    if (creator.user_id && creator.service_account_id) __builtin_trap();  // never both creators
    (void)outbox_principal(principal).dump();
  }
  return 0;
}
