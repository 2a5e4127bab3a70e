// Debian's PgBouncer in transaction pooling mode in front of the harness's
// PostgreSQL, on a free port, for the tests of DATABASE_STATEMENTS=unnamed:
// every transaction may land on another server connection, so nothing that
// lives in a session (named prepared statements, SET, LISTEN) survives.
#pragma once

#include <boost/noncopyable.hpp>
#include <memory>
#include <string>

#include "tests/support/services.hpp"

namespace fgac::testing {

class PgBouncer : boost::noncopyable {
 public:
  // postgres_url: postgresql://user@host:port/db of the harness's cluster.
  explicit PgBouncer(const std::string& postgres_url);
  ~PgBouncer();

  // The same database through PgBouncer.
  [[nodiscard]] const std::string& url() const { return url_; }
  [[nodiscard]] std::string log() const;

 private:
  std::string dir_;
  std::string url_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace fgac::testing
