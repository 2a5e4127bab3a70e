// taskctl subcommands; each returns a process exit code.
#pragma once

#include <memory>

#include "taskctl/cli.hpp"

namespace fgac::taskctl {

int run_migrate(Args& args);
int run_outbox(Args& args);
int run_backfill(Args& args);
int run_reconcile(Args& args);

// What backfill and reconcile both take: --dry-run, --batch N (at least 1,
// default `default_batch`) and the database; nothing else.
struct BatchOptions {
  bool dry_run = false;
  long long batch = 0;
  PgSettings database;
};
BatchOptions batch_options(Args& args, long long default_batch);

// A connection with the outbox module's statements prepared.
std::unique_ptr<pqxx::connection> outbox_connection(const PgSettings& db);

}  // namespace fgac::taskctl
