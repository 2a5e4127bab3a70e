// The authorization port over HTTP: register and deregister on the
// agentex-auth wire contract (DESIGN.md, "Wire contracts").
#pragma once

#include <optional>
#include <string>

#include "common/http_client.hpp"
#include "outbox_worker/authorization_port.hpp"

namespace fgac::worker {

// The JSON body for a claimed row's register or deregister (pure).
std::string authz_request_body(const ClaimedRow& row);

// Request header carrying the call's deadline (epoch milliseconds); see deliver().
inline constexpr const char* kDeadlineHeader = "X-Request-Deadline";

class HttpAuthzClient final : public AuthorizationPort {
 public:
  HttpAuthzClient(HttpClientSettings settings, std::optional<std::string> service_token);
  boost::asio::awaitable<CallResult> deliver(const ClaimedRow& row, std::chrono::milliseconds timeout) override;

 private:
  HttpClient client_;
  HeaderList headers_;
};

}  // namespace fgac::worker
