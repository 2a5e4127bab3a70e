#include <iostream>

#include "schema/migrator.hpp"
#include "taskctl/commands.hpp"

namespace fgac::taskctl {

int run_migrate(Args& args) {
  const bool dry_run = args.flag("--dry-run");
  auto target = args.option("--to");
  auto db = database_settings(args);
  auto rest = args.positionals();
  const bool status_only = !rest.empty() && rest.front() == "status";
  if (rest.size() > (status_only ? 1U : 0U)) throw UsageError("unexpected argument " + rest.back());

  schema::Migrator migrator({db}, schema::parse_migrations(schema::embedded_migration_files()));
  if (status_only) {
    int pending = 0;
    bool edited = false;
    for (const auto& s : migrator.status()) {
      const char* state = !s.applied ? "pending" : s.checksum_mismatch ? "EDITED" : "applied";
      std::cout << s.migration.file_name << "  " << state;
      if (s.applied) std::cout << "  " << s.applied_at;
      std::cout << "\n";
      pending += s.applied ? 0 : 1;
      edited = edited || s.checksum_mismatch;
    }
    std::cout << pending << " pending\n";
    if (edited) {
      std::cerr << "error: an applied migration file was edited (checksum mismatch)\n";
      return kExitFailure;
    }
    return kExitOk;
  }

  auto versions = migrator.migrate(dry_run, target, [](const std::string& line) { std::cout << line << std::endl; });
  if (versions.empty()) {
    std::cout << "schema is up to date\n";
  } else {
    std::cout << (dry_run ? "would apply " : "applied ") << versions.size() << " migration(s)\n";
  }
  return kExitOk;
}

}  // namespace fgac::taskctl
