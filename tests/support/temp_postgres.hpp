// A throwaway PostgreSQL 15 cluster for integration tests: initdb into a
// temporary directory, a free port on 127.0.0.1, stopped and removed when the
// object goes away — and, through a watchdog process, also when the test
// process dies without unwinding (a crash, an abort, kill -9).
#pragma once

#include <sys/types.h>
#include <boost/noncopyable.hpp>
#include <string>
#include <vector>

namespace fgac::testing {

class TempPostgres : boost::noncopyable {
 public:
  // Throws std::runtime_error, with the server log's tail, when the cluster cannot start.
  TempPostgres();
  ~TempPostgres();

  [[nodiscard]] unsigned short port() const { return port_; }
  [[nodiscard]] const std::string& directory() const { return dir_; }
  [[nodiscard]] std::string url(const std::string& database = "postgres") const;

  // Creates an empty database and returns its URL.
  std::string create_database(const std::string& name);

  void stop();   // fast shutdown; keeps the data directory
  void start();  // starts again on the same port

 private:
  std::vector<std::string> as_owner(std::vector<std::string> argv) const;
  void run_checked(const std::vector<std::string>& argv, const std::string& what) const;

  std::string bin_dir_;
  std::string dir_;
  unsigned short port_ = 0;
  bool as_postgres_user_ = false;
  int watchdog_fd_ = -1;
  pid_t watchdog_pid_ = -1;
};

}  // namespace fgac::testing
