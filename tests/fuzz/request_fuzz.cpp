// libFuzzer target over the API's request parsing and validation: bodies,
// JSON-RPC envelopes, query strings, paths and authn answers. Every input must
// either parse or fail with an ApiError; anything else (a crash, another
// exception, a sanitizer report) is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fgac::api;
  const std::string_view input(reinterpret_cast<const char*>(data), size);  // NOLINT
  expect_parse_or_api_error([&] { (void)parse_create_task(input); });
  expect_parse_or_api_error([&] { (void)parse_create_agent(input); });
  expect_parse_or_api_error([&] {
    auto rpc = parse_rpc(input);
    (void)parse_rpc_task_create(rpc.params, AgentRef{std::nullopt, "agent"});
  });
  expect_parse_or_api_error([&] { (void)parse_task_filter(parse_query(input)); });
  expect_parse_or_api_error([&] { (void)parse_page(parse_query(input)); });
  expect_parse_or_api_error([&] { (void)match_route(boost::beast::http::verb::get, input); });
  expect_parse_or_api_error([&] { (void)match_route(boost::beast::http::verb::post, input); });
  auto json = nlohmann::json::parse(input, nullptr, false);
  if (!json.is_discarded()) {
    auto principal = parse_principal(json);
    auto creator = creator_of(principal);
    if (creator.user_id && creator.service_account_id) __builtin_trap();  // never both creators
    (void)outbox_principal(principal).dump();
  }
  return 0;
}
