// taskctl subcommands; each returns a process exit code.
#pragma once

#include "taskctl/cli.hpp"

namespace fgac::taskctl {

int run_migrate(Args& args);

}  // namespace fgac::taskctl
