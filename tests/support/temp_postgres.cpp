#include "tests/support/temp_postgres.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "tests/support/process.hpp"

namespace fgac::testing {
namespace {

std::string default_bin_dir() {
  if (const char* dir = std::getenv("PG_BINDIR")) return dir;  // NOLINT(concurrency-mt-unsafe)
  return "/usr/lib/postgresql/15/bin";
}

std::string log_tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  constexpr std::size_t kTail = 2000;
  return all.size() > kTail ? all.substr(all.size() - kTail) : all;
}

}  // namespace

std::vector<std::string> TempPostgres::as_owner(std::vector<std::string> argv) const {
  // initdb and postgres refuse to run as root: run them as the postgres system user.
  if (as_postgres_user_) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  return argv;
}

void TempPostgres::run_checked(const std::vector<std::string>& argv, const std::string& what) const {
  auto result = run_process(as_owner(argv));
  if (result.exit_code != 0) {
    throw std::runtime_error("TempPostgres: " + what + " failed (exit " + std::to_string(result.exit_code) + "):\n" +
                             result.output + "\nserver log:\n" + log_tail(dir_ + "/server.log"));
  }
}

TempPostgres::TempPostgres() : bin_dir_(default_bin_dir()) {
  if (access((bin_dir_ + "/initdb").c_str(), X_OK) != 0) {
    throw std::runtime_error("TempPostgres: no initdb in " + bin_dir_ + " (install postgresql-15 or set PG_BINDIR)");
  }
  char tmpl[] = "/tmp/fgac-pg-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("TempPostgres: mkdtemp failed");
  dir_ = tmpl;
  as_postgres_user_ = geteuid() == 0;
  if (as_postgres_user_) {
    const passwd* pw = getpwnam("postgres");  // NOLINT(concurrency-mt-unsafe)
    if (pw == nullptr) throw std::runtime_error("TempPostgres: running as root but there is no postgres user");
    if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("TempPostgres: chown failed");
  }

  // The watchdog outlives a crashed test: when our end of the pipe closes (we
  // exited, however), it stops the server and removes the directory.
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("TempPostgres: pipe failed");
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  watchdog_pid_ = fork();
  if (watchdog_pid_ == 0) {
    close(fds[1]);
    setsid();  // not in the test's process group: a Ctrl-C there must not skip the clean-up
    char byte = 0;
    while (read(fds[0], &byte, 1) < 0 && errno == EINTR) {
    }
    std::vector<std::string> stop{bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "-w", "stop"};
    if (as_postgres_user_) stop.insert(stop.begin(), {"runuser", "-u", "postgres", "--"});
    run_process(stop);
    run_process({"rm", "-rf", dir_});
    _exit(0);
  }
  close(fds[0]);
  watchdog_fd_ = fds[1];

  run_checked({bin_dir_ + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync",
               "--no-instructions"},
              "initdb");
  port_ = free_port();
  start();
}

void TempPostgres::start() {
  // Durability is irrelevant for a throwaway cluster; speed matters.
  const std::string options = "-p " + std::to_string(port_) + " -k " + dir_ +
                              " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
                              " -c full_page_writes=off -c max_connections=200";
  run_checked({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-o", options, "-l", dir_ + "/server.log", "-w", "-t", "60",
               "start"},
              "pg_ctl start");
}

void TempPostgres::stop() {
  run_checked({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "fast", "-w", "stop"}, "pg_ctl stop");
}

TempPostgres::~TempPostgres() {
  if (watchdog_fd_ >= 0) close(watchdog_fd_);
  if (watchdog_pid_ > 0) {
    int status = 0;
    while (waitpid(watchdog_pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

std::string TempPostgres::url(const std::string& database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string TempPostgres::create_database(const std::string& name) {
  auto result = run_process(
      {bin_dir_ + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url(), "-c", "CREATE DATABASE \"" + name + "\""});
  if (result.exit_code != 0) throw std::runtime_error("TempPostgres: CREATE DATABASE failed: " + result.output);
  return url(name);
}

}  // namespace fgac::testing
