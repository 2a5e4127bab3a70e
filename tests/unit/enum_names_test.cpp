// One name table per enum: both directions, and the exact words the
// configuration, the metric labels and the logs use.
#include <doctest/doctest.h>

#include "common/enum_names.hpp"
#include "common/log.hpp"
#include "service/authorization.hpp"

using namespace fgac;
using namespace fgac::api;

namespace {

enum class Colour { red, green, blue };
constexpr EnumNames<Colour, Colour::blue> kColours{"red", "green", "blue"};

}  // namespace

TEST_CASE("enum names: every value has its name and every name its value; anything else is unset") {
  for (auto c : {Colour::red, Colour::green, Colour::blue}) CHECK(kColours.parse(kColours.name(c)) == c);
  CHECK(kColours.name(Colour::green) == "green");
  CHECK_FALSE(kColours.parse("Green"));
  CHECK_FALSE(kColours.parse(""));
  CHECK_FALSE(kColours.parse("green "));
  static_assert(kColours.name(Colour::blue) == "blue", "usable at compile time");
  static_assert(kColours.parse("red") == Colour::red);
}

TEST_CASE("enum names: the words of the enforcement modes, operations, decision sources, consistencies, log levels") {
  CHECK(mode_name(EnforceMode::shadow) == "shadow");
  CHECK(parse_enforce_mode("off") == EnforceMode::off);
  CHECK(parse_list_mode("lookup") == ListMode::lookup);
  CHECK_FALSE(parse_list_mode("all"));
  CHECK(operation_name(Operation::delete_) == "delete");
  CHECK(operation_name(Operation::cancel) == "cancel");
  CHECK(source_name(DecisionSource::pending_creator) == "pending_creator");
  CHECK(source_name(DecisionSource::no_subject) == "no_subject");
  CHECK(parse_read_consistency("fully_consistent") == ReadConsistency::fully_consistent);
  CHECK_FALSE(parse_read_consistency("eventual"));
  CHECK(consistency_name(std::string("zt")) == "at_least_as_fresh");
  CHECK(consistency_name(std::string()) == "fully_consistent");
  CHECK(consistency_name(std::nullopt) == "fully_consistent");
  CHECK(log::parse_level("warning") == log::Level::warn);
  CHECK(log::parse_level("error") == log::Level::error);
  CHECK_THROWS_AS(log::parse_level("loud"), std::invalid_argument);
}
