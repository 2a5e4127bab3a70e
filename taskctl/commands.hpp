// taskctl subcommands; each returns a process exit code.
#pragma once

#include "taskctl/cli.hpp"

namespace fgac::taskctl {

int run_migrate(Args& args);
int run_outbox(Args& args);
int run_backfill(Args& args);
int run_reconcile(Args& args);

}  // namespace fgac::taskctl
