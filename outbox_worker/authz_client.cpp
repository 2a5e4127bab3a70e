#include "outbox_worker/authz_client.hpp"

#include <chrono>

#include <nlohmann/json.hpp>

#include "common/text.hpp"

namespace fgac::worker {
namespace {
constexpr std::size_t kMaxCallErrorBytes = 200;
}  // namespace

std::string authz_request_body(const ClaimedRow& row) {
  auto principal = nlohmann::json::parse(row.principal, nullptr, false);
  if (principal.is_discarded() || !principal.is_object()) principal = nlohmann::json::object();
  nlohmann::json body{{"principal", std::move(principal)},
                      {"resource", {{"type", row.resource_type}, {"selector", row.resource_id}}}};
  if (row.op == outbox::Op::register_ && row.parent_type && row.parent_id) {
    body["parent"] = {{"type", *row.parent_type}, {"selector", *row.parent_id}};
  }
  return body.dump();
}

HttpAuthzClient::HttpAuthzClient(HttpClientSettings settings, std::optional<std::string> service_token)
    : client_(std::move(settings)) {
  if (service_token) headers_.emplace_back("Authorization", "Bearer " + *service_token);
}

boost::asio::awaitable<CallResult> HttpAuthzClient::deliver(const ClaimedRow& row, std::chrono::milliseconds timeout) {
  const std::string path = row.op == outbox::Op::register_ ? "/v1/authz/register" : "/v1/authz/deregister";
  CallResult result;
  try {
    // When this call gives up, as wall-clock milliseconds since the epoch. A
    // service that honours it refuses a write it would start later: the
    // worker has moved on by then (retry, or a newer desire through another
    // worker), and a late register would land after a newer deregister.
    auto headers = headers_;
    const auto deadline = std::chrono::system_clock::now() + timeout;
    headers.emplace_back(
        kDeadlineHeader,
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(deadline.time_since_epoch()).count()));
    auto res = co_await client_.post_json(path, authz_request_body(row), std::move(headers), timeout);
    result.status = res.status;
    if (res.status == 200) {
      auto body = nlohmann::json::parse(res.body, nullptr, false);
      if (body.is_object()) {
        auto it = body.find("zedtoken");
        if (it != body.end() && it->is_string()) result.zedtoken = it->get<std::string>();
      }
    } else {
      // The body is the service's, not ours: bounded and made storable before it goes near a row.
      result.error = storable_text("HTTP " + std::to_string(res.status) + ": " + res.body, kMaxCallErrorBytes);
    }
  } catch (const std::exception& e) {
    result.error = storable_text(e.what(), kMaxCallErrorBytes);
  }
  co_return result;
}

}  // namespace fgac::worker
