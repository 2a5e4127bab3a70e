// Text checks for input that crosses a trust boundary (pure functions).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fgac {

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text);

// Text that PostgreSQL's text type and a JSON log line both accept, at most
// `max_bytes` long: invalid UTF-8 and NUL become U+FFFD, and a cut never
// splits a character.
std::string storable_text(std::string_view text, std::size_t max_bytes);

}  // namespace fgac
