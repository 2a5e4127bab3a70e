// taskctl subcommands; each returns a process exit code.
#pragma once

#include <memory>

#include "taskctl/cli.hpp"

namespace fgac::taskctl {

int run_migrate(Args& args);
int run_outbox(Args& args);
int run_backfill(Args& args);
int run_reconcile(Args& args);

// A connection with the outbox module's statements prepared.
std::unique_ptr<pqxx::connection> outbox_connection(const PgSettings& db);

}  // namespace fgac::taskctl
