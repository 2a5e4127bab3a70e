#include <doctest/doctest.h>

#include "common/text.hpp"

using fgac::is_valid_utf8;
using fgac::storable_text;

TEST_CASE("utf8: well-formed text passes; overlongs, surrogates, stray and truncated bytes do not") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ascii"));
  CHECK(is_valid_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));  // é € 😀
  CHECK(is_valid_utf8("\xF4\x8F\xBF\xBF"));                      // U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xFF"));
  CHECK_FALSE(is_valid_utf8("\xC3\x28"));
  CHECK_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong
  CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate U+D800
  CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xE2\x82"));          // truncated
  CHECK_FALSE(is_valid_utf8("\x80"));
}

TEST_CASE("storable text: never splits a character, replaces invalid bytes and NUL, stays within the bound") {
  const std::string euro = "\xE2\x82\xAC";
  // A cut inside the third euro sign drops it whole.
  CHECK(storable_text(euro + euro + euro, 8) == euro + euro);
  CHECK(storable_text(euro + euro + euro, 9) == euro + euro + euro);
  CHECK(storable_text(std::string("a\0b", 3), 100) ==
        "a\xEF\xBF\xBD"
        "b");
  CHECK(storable_text("x\xFFy", 100) == "x\xEF\xBF\xBDy");
  CHECK(storable_text(std::string(1000, 'e'), 500).size() == 500);
  for (std::size_t bound = 0; bound < 12; ++bound) {
    CAPTURE(bound);
    std::string mixed = "\xFF";
    mixed.append(euro).append("a\xC3\xA9").append(euro);
    const auto out = storable_text(mixed, bound);
    CHECK(out.size() <= bound);
    CHECK(is_valid_utf8(out));
  }
}
