#include "common/http_framing.hpp"

#include <vector>

namespace fgac {

namespace http = boost::beast::http;

std::string lower_trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<FramingError> framing_error(const http::fields& fields) {
  std::vector<std::string> codings;
  for (auto [it, end] = fields.equal_range(http::field::transfer_encoding); it != end; ++it) {
    std::string_view value = it->value();
    while (!value.empty()) {
      auto comma = value.find(',');
      auto token = lower_trimmed(value.substr(0, comma));
      if (!token.empty()) codings.push_back(std::move(token));
      value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    }
  }
  const bool has_length = fields.find(http::field::content_length) != fields.end();
  if (fields.find(http::field::transfer_encoding) == fields.end()) return std::nullopt;
  if (codings.empty() || codings.back() != "chunked")
    return FramingError{http::status::bad_request, "Transfer-Encoding must end in chunked"};
  if (has_length) return FramingError{http::status::bad_request, "Transfer-Encoding and Content-Length together"};
  if (codings.size() > 1) return FramingError{http::status::not_implemented, "only the chunked transfer coding"};
  return std::nullopt;
}

}  // namespace fgac
