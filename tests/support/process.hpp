// Running child processes from tests: argv vectors, no shell.
#pragma once

#include <sys/types.h>
#include <string>
#include <vector>

namespace fgac::testing {

struct ProcessResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs argv to completion, capturing its output.
ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {});

// Starts argv in the background with stdout/stderr appended to log_path; returns the pid.
pid_t spawn_process(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                    const std::string& log_path);

// A TCP port on 127.0.0.1 that was free a moment ago.
unsigned short free_port();

}  // namespace fgac::testing
