#include "tests/support/pgbouncer.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <stdexcept>
#include <thread>

#include "common/pg_pool.hpp"
#include "tests/support/process.hpp"

namespace fgac::testing {
namespace {

constexpr const char* kPgBouncer = "/usr/sbin/pgbouncer";

}  // namespace

PgBouncer::PgBouncer(const std::string& postgres_url) {
  std::smatch m;
  static const std::regex kUrl(R"(^postgresql://([^@/]+)@([^:/]+):(\d+)/(.+)$)");
  if (!std::regex_match(postgres_url, m, kUrl))
    throw std::invalid_argument("PgBouncer: unexpected URL " + postgres_url);
  const std::string user = m[1];
  const std::string host = m[2];
  const std::string port = m[3];
  const std::string database = m[4];
  if (access(kPgBouncer, X_OK) != 0) throw std::runtime_error("PgBouncer: no " + std::string(kPgBouncer));

  char tmpl[] = "/tmp/fgac-pgbouncer-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("PgBouncer: mkdtemp failed");
  dir_ = tmpl;
  const auto listen = free_port();
  {
    std::ofstream ini(dir_ + "/pgbouncer.ini");
    ini << "[databases]\n* = host=" << host << " port=" << port << "\n"
        << "[pgbouncer]\n"
        << "listen_addr = 127.0.0.1\nlisten_port = " << listen << "\n"
        << "unix_socket_dir =\n"
        << "auth_type = trust\nauth_file = " << dir_ << "/users.txt\n"
        << "pool_mode = transaction\n"
        // Few server connections for many clients: transactions really do move between them.
        << "default_pool_size = 3\nmax_client_conn = 500\n"
        << "ignore_startup_parameters = extra_float_digits\n"
        << "logfile = " << dir_ << "/pgbouncer.log\npidfile = " << dir_ << "/pgbouncer.pid\n";
    std::ofstream users(dir_ + "/users.txt");
    users << '"' << user << "\" \"\"\n";
  }
  std::vector<std::string> argv{kPgBouncer, dir_ + "/pgbouncer.ini"};
  if (geteuid() == 0) {
    // PgBouncer refuses to run as root; the cluster's owner runs it.
    const passwd* pw = getpwnam("postgres");  // NOLINT(concurrency-mt-unsafe)
    if (pw == nullptr) throw std::runtime_error("PgBouncer: running as root but there is no postgres user");
    for (const char* f : {"", "/pgbouncer.ini", "/users.txt"}) {
      if (chown((dir_ + f).c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("PgBouncer: chown failed");
    }
    argv.insert(argv.begin(), {"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"});
  }
  process_ = std::make_unique<ChildProcess>("pgbouncer", argv, std::vector<std::string>{});
  url_ = "postgresql://" + user + "@127.0.0.1:" + std::to_string(listen) + "/" + database;
  // Ready once a query goes through it.
  PgSettings settings;
  settings.url = url_;
  settings.statements = StatementMode::unnamed;
  for (int i = 0; i < 100; ++i) {
    try {
      auto conn = pg_connect(settings);
      pqxx::nontransaction tx(*conn);
      tx.exec1("SELECT 1");
      return;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  throw std::runtime_error("PgBouncer did not accept connections:\n" + log());
}

PgBouncer::~PgBouncer() {
  process_.reset();
  run_process({"rm", "-rf", dir_});
}

std::string PgBouncer::log() const {
  std::ifstream in(dir_ + "/pgbouncer.log");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text + (process_ ? process_->log() : "");
}

}  // namespace fgac::testing
