// The authorization port: register and deregister over the agentex-auth wire
// contract. Transport failures come back as results, never as exceptions.
#pragma once

#include <optional>
#include <string>

#include "common/asio.hpp"
#include "common/http_client.hpp"
#include "outbox_worker/outbox_repository.hpp"

namespace fgac::worker {

struct CallResult {
  std::optional<unsigned> status;       // unset: network error or timeout
  std::optional<std::string> zedtoken;  // from a 200 body
  std::string error;                    // what went wrong, for the row and the log
};

// The JSON body for a claimed row's register or deregister (pure).
std::string authz_request_body(const ClaimedRow& row);

// Request header carrying the call's deadline (epoch milliseconds); see deliver().
inline constexpr const char* kDeadlineHeader = "X-Request-Deadline";

class AuthzClient {
 public:
  AuthzClient(HttpClientSettings settings, std::optional<std::string> service_token);
  boost::asio::awaitable<CallResult> deliver(const ClaimedRow& row, std::chrono::milliseconds timeout);

 private:
  HttpClient client_;
  HeaderList headers_;
};

}  // namespace fgac::worker
