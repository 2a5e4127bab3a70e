// The README's configuration tables against the variables each binary
// actually reads: a variable added to a loader but not documented (or
// documented with another default, or documented but no longer read) fails.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "outbox_worker/worker_config.hpp"
#include "service/config.hpp"
#include "tests/unit/map_env.hpp"

using fgac::testing::MapEnv;

namespace {

std::vector<std::string> readme_table_rows() {
  std::ifstream in(std::string(FGAC_SOURCE_DIR) + "/README.md");
  REQUIRE(in.good());
  std::vector<std::string> rows;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("| `")) rows.push_back(line);
  }
  return rows;
}

std::vector<fgac::EnvVar> declared_by_both() {
  const std::map<std::string, std::string> minimal{{"DATABASE_URL", "postgresql://u@h/db"},
                                                   {"AGENTEX_AUTH_URL", "http://127.0.0.1:8090"}};
  std::vector<fgac::EnvVar> api;
  std::vector<fgac::EnvVar> worker;
  (void)fgac::api::load_api_config(MapEnv(minimal), &api);
  (void)fgac::worker::load_worker_config(MapEnv(minimal), &worker);
  api.insert(api.end(), worker.begin(), worker.end());
  return api;
}

}  // namespace

TEST_CASE("config docs: every variable the API and the worker read has a README row with its default") {
  const auto rows = readme_table_rows();
  for (const auto& var : declared_by_both()) {
    CAPTURE(var.name);
    CHECK_FALSE(var.doc.empty());  // each declaration says what it is for
    const std::string named = "`" + var.name + "`";
    auto row = std::find_if(rows.begin(), rows.end(), [&](const std::string& r) {
      return r.substr(0, r.find(" | ", 2)).find(named) != std::string::npos;
    });
    REQUIRE_MESSAGE(row != rows.end(), "README has no row for " << var.name);
    // WORKER_ID's default is computed (hostname-pid); everything else is literal.
    if (!var.fallback.empty() && var.name != "WORKER_ID") {
      CAPTURE(*row);
      CHECK(row->find("`" + var.fallback + "`") != std::string::npos);
    }
  }
}

TEST_CASE("config docs: every variable the README's configuration rows name is read by some binary") {
  std::set<std::string> read;
  for (const auto& var : declared_by_both()) read.insert(var.name);
  // taskctl's own (it shares the worker's names) and the local stack's ports are documented elsewhere.
  const std::regex name(R"(`((API|WORKER|AUTHN|AUTHZ)_[A-Z_]+)`)");
  for (const auto& row : readme_table_rows()) {
    const std::string first_cell = row.substr(0, row.find(" | ", 2));
    for (std::sregex_iterator it(first_cell.begin(), first_cell.end(), name), end; it != end; ++it) {
      CAPTURE((*it)[1].str());
      CHECK(read.contains((*it)[1].str()));
    }
  }
}
