// Request framing rules (pure, no I/O; the fuzz target drives them). Only
// the chunked transfer coding is understood, and RFC 9112 6.1 is applied
// strictly: a Transfer-Encoding that does not end in chunked is refused,
// never guessed at, so a body can never be read as a second request.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/status.hpp>

namespace fgac {

struct FramingError {
  boost::beast::http::status status;
  std::string_view message;
};

// Why a request's framing is refused, or nullopt when it is acceptable.
std::optional<FramingError> framing_error(const boost::beast::http::fields& fields);

// A header value without surrounding blanks, in lower case.
std::string lower_trimmed(std::string_view text);

}  // namespace fgac
