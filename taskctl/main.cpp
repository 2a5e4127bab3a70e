// taskctl: the operator's command line for fgac-tasks.
#include <iostream>
#include <string>
#include <vector>

#include "taskctl/commands.hpp"

namespace {

constexpr const char* kUsage = R"(usage: taskctl <command> [options]

commands:
  migrate [--dry-run] [--to VERSION]   apply pending schema migrations in order
  migrate status                       list applied and pending migrations
  outbox status                        pending and dead rows by op, oldest age, vacuum state
  outbox dead [--limit N]              dead letters with their reasons
  outbox requeue <resource_id> | --all revive dead letters (the worker delivers them again)
  backfill [--batch N] [--dry-run]     enqueue registers for tasks never registered (flag-off period),
           [--max-pending N] [--rate R] paced: keeps at most N rows pending (default 1000, 0 = no cap),
                                       at most R rows/s (default 0 = no cap); safe to kill and run again
  reconcile [--batch N] [--dry-run]    check each creator can read its task; re-enqueue those that cannot
                                       (needs AGENTEX_AUTH_URL; sends AUTHZ_SERVICE_TOKEN when set)

options:
  --database-url URL                   defaults to $DATABASE_URL
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace fgac::taskctl;
  std::vector<std::string> raw(argv + 1, argv + argc);
  if (raw.empty() || raw.front() == "--help" || raw.front() == "-h" || raw.front() == "help") {
    std::cout << kUsage;
    return raw.empty() ? kExitUsage : kExitOk;
  }
  const std::string command = raw.front();
  Args args({raw.begin() + 1, raw.end()});
  try {
    if (command == "migrate") return run_migrate(args);
    if (command == "outbox") return run_outbox(args);
    if (command == "backfill") return run_backfill(args);
    if (command == "reconcile") return run_reconcile(args);
    std::cerr << "taskctl: unknown command '" << command << "'\n" << kUsage;
    return kExitUsage;
  } catch (const UsageError& e) {
    std::cerr << "taskctl: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "taskctl: error: " << e.what() << "\n";
    return kExitFailure;
  }
}
