// task-api's start-up checks, run as the binary. The worker's are tested in
// tests/worker/lifecycle_workertest.cpp.
#include <doctest/doctest.h>

#include "tests/e2e/checks.hpp"

using namespace fgac::testing;

TEST_CASE("task-api: without AGENTEX_AUTH_URL (and no AUTH_DISABLED) it stops at start-up with exit 2 and says why") {
  auto api = run_process({"env", "-u", "AGENTEX_AUTH_URL", "-u", "AUTH_DISABLED", bin_dir() + "/task-api"},
                         {"DATABASE_URL=postgresql://postgres@127.0.0.1:1/x"});
  CHECK(api.exit_code == 2);
  CHECK(api.output.find("AGENTEX_AUTH_URL is required (set AUTH_DISABLED=true only for development)") !=
        std::string::npos);
}
