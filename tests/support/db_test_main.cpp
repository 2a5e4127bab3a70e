// Database tests: one throwaway cluster for the whole binary. A cluster that
// cannot start fails the run; it never skips.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <iostream>

#include "tests/support/pg_fixture.hpp"

int main(int argc, char** argv) {
  std::unique_ptr<fgac::testing::TempPostgres> pg;
  try {
    pg = std::make_unique<fgac::testing::TempPostgres>();
  } catch (const std::exception& e) {
    std::cerr << "FATAL: cannot start the test PostgreSQL cluster: " << e.what() << "\n";
    return 1;
  }
  fgac::testing::set_cluster(pg.get());
  doctest::Context context(argc, argv);
  const int rc = context.run();
  fgac::testing::set_cluster(nullptr);
  return rc;
}
