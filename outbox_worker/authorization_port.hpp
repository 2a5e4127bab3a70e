// The authorization port: what the worker needs of the authz service, one
// register or deregister per claimed row. The HTTP adapter (authz_client.hpp)
// is one implementation; the unit tests drive the delivery state machine
// through a fake (Envoy's MockClient).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/asio.hpp"
#include "outbox/outbox.hpp"

namespace fgac::worker {

using outbox::ClaimedRow;

struct CallResult {
  std::optional<unsigned> status;       // unset: network error or timeout
  std::optional<std::string> zedtoken;  // from a 200 body
  std::string error;                    // what went wrong, for the row and the log
};

class AuthorizationPort {
 public:
  virtual ~AuthorizationPort() = default;
  // Never throws: transport failures come back as results. The call gives up
  // after `timeout`.
  virtual boost::asio::awaitable<CallResult> deliver(const ClaimedRow& row, std::chrono::milliseconds timeout) = 0;
};

}  // namespace fgac::worker
