#include <doctest/doctest.h>

#include "common/http_client.hpp"
#include "common/http_server.hpp"
#include "service/api_metrics.hpp"

using namespace fgac;

namespace {
std::optional<unsigned> refused(std::initializer_list<std::pair<http::field, const char*>> fields) {
  http::fields f;
  for (const auto& [name, value] : fields) f.insert(name, value);
  auto error = framing_error(f);
  if (!error) return std::nullopt;
  return static_cast<unsigned>(error->status);
}
}  // namespace

TEST_CASE("framing: a Transfer-Encoding that does not end in chunked is a 400 (RFC 9112 6.1)") {
  CHECK_FALSE(refused({}));
  CHECK_FALSE(refused({{http::field::content_length, "5"}}));
  CHECK_FALSE(refused({{http::field::transfer_encoding, "chunked"}}));
  CHECK_FALSE(refused({{http::field::transfer_encoding, " Chunked "}}));
  CHECK(refused({{http::field::transfer_encoding, "chunked, identity"}}) == 400U);
  CHECK(refused({{http::field::transfer_encoding, "identity, gzip"}}) == 400U);
  CHECK(refused({{http::field::transfer_encoding, "xchunked"}}) == 400U);
  CHECK(refused({{http::field::transfer_encoding, ""}}) == 400U);
  CHECK(refused({{http::field::transfer_encoding, "chunked"}, {http::field::transfer_encoding, "identity"}}) == 400U);
  CHECK(refused({{http::field::transfer_encoding, "chunked"}, {http::field::content_length, "3"}}) == 400U);
  // A coding we cannot undo, before chunked: not implemented.
  CHECK(refused({{http::field::transfer_encoding, "gzip, chunked"}}) == 501U);
}

TEST_CASE("upstream URLs: http and https, with default ports; credentials and junk refused") {
  auto plain = parse_upstream_url("http://authz:8090/base/");
  CHECK_FALSE(plain.tls);
  CHECK(plain.host == "authz");
  CHECK(plain.port == "8090");
  CHECK(plain.base_path == "/base");
  auto tls = parse_upstream_url("https://auth.example.com");
  CHECK(tls.tls);
  CHECK(tls.port == "443");
  CHECK(parse_upstream_url("http://h").port == "80");
  CHECK_THROWS_AS(parse_upstream_url("ftp://h"), std::invalid_argument);
  CHECK_THROWS_AS(parse_upstream_url("https://user:pw@h"), std::invalid_argument);
  CHECK_THROWS_AS(parse_upstream_url("http://h:99999"), std::invalid_argument);
  CHECK_THROWS_AS(parse_upstream_url("http://h:x"), std::invalid_argument);
  CHECK_THROWS_AS(parse_upstream_url("http://:80"), std::invalid_argument);
}

TEST_CASE("metrics: a made-up method is labelled OTHER, so clients cannot mint series") {
  CHECK(api::method_label("GET") == "GET");
  CHECK(api::method_label("DELETE") == "DELETE");
  CHECK(api::method_label("BREW") == "OTHER");
  CHECK(api::method_label("get") == "OTHER");
  CHECK(api::method_label("PROPFIND") == "OTHER");
}
