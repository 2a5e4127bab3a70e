// taskctl's option parsing: numbers are whole, bounded and fully read, or a
// usage error that names the option (exit 2), never a bare std::stoll failure.
#include <doctest/doctest.h>

#include "taskctl/cli.hpp"

using fgac::taskctl::Args;
using fgac::taskctl::UsageError;

TEST_CASE("taskctl options: a whole number of at least the minimum, in either spelling, or absent") {
  Args args({"--batch", "25", "--limit=7"});
  CHECK(args.whole("--batch", 1) == 25);
  CHECK(args.whole("--limit", 1) == 7);
  CHECK_FALSE(args.whole("--max-pending", 0));
  CHECK_NOTHROW(args.expect_no_more());
  Args zero({"--max-pending", "0", "--rate", "2.5"});
  CHECK(zero.whole("--max-pending", 0) == 0);
  CHECK(zero.decimal("--rate", 0) == doctest::Approx(2.5));
}

TEST_CASE("taskctl options: text, trailing characters, fractions, negatives and huge values are usage errors") {
  for (const char* bad : {"abc", "10x", "1.5", "-3", "0", "", " 5", "99999999999999999999", "1e13"}) {
    Args args({"--batch", bad});
    CHECK_THROWS_WITH_AS(args.whole("--batch", 1), doctest::Contains("--batch must be a whole number of at least 1"),
                         UsageError);
  }
  for (const char* bad : {"fast", "-0.5", "nan", "inf", "2/s"}) {
    Args args({"--rate", bad});
    CHECK_THROWS_WITH_AS(args.decimal("--rate", 0), doctest::Contains("--rate must be a number of at least 0"),
                         UsageError);
  }
  Args missing({"--limit"});
  CHECK_THROWS_WITH_AS(missing.whole("--limit", 1), "--limit needs a value", UsageError);
}
