#include <doctest/doctest.h>

#include <set>

#include "common/uuid.hpp"

TEST_CASE("uuid: canonical forms are accepted, anything else is not") {
  CHECK(fgac::is_uuid("123e4567-e89b-12d3-a456-426614174000"));
  CHECK(fgac::is_uuid("123E4567-E89B-12D3-A456-426614174000"));
  CHECK_FALSE(fgac::is_uuid(""));
  CHECK_FALSE(fgac::is_uuid("not-a-uuid"));
  CHECK_FALSE(fgac::is_uuid("123e4567e89b12d3a456426614174000"));
  CHECK_FALSE(fgac::is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
  CHECK_FALSE(fgac::is_uuid("123e4567-e89b-12d3-a456-4266141740000"));
  CHECK_FALSE(fgac::is_uuid("'; DROP TABLE tasks; --xxxxxxxxxxxxxxxx"));
}

TEST_CASE("uuid: new ids are valid version-4 UUIDs and distinct") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = fgac::new_uuid_v4();
    CHECK(fgac::is_uuid(id));
    CHECK(id[14] == '4');
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);
    seen.insert(id);
  }
  CHECK(seen.size() == 1000);
}
