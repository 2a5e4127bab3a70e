#include "common/pg_pool.hpp"

#include "common/env.hpp"

#include <condition_variable>

namespace fgac {
namespace {

bool has_param(const std::string& url, std::string_view key) {
  return url.find(std::string(key) + "=") != std::string::npos;
}

bool is_uri(const std::string& url) {
  return url.starts_with("postgres://") || url.starts_with("postgresql://");
}

}  // namespace

std::string pg_connection_string(const PgSettings& settings) {
  std::string url = settings.url;
  const bool uri = is_uri(url);
  auto add = [&](std::string_view key, const std::string& value) {
    if (has_param(url, key)) return;
    if (uri) {
      url += (url.find('?') == std::string::npos) ? '?' : '&';
    } else if (!url.empty()) {
      url += ' ';
    }
    url += std::string(key) + "=" + value;
  };
  add("connect_timeout", std::to_string(std::max<long>(1, static_cast<long>(settings.connect_timeout.count() / 1000))));
  add("application_name", settings.application_name);
  // Detect a vanished server on an idle connection within tens of seconds.
  add("keepalives_idle", "10");
  add("keepalives_interval", "5");
  add("keepalives_count", "3");
  return url;
}

StatementMode read_statement_mode(EnvReader& r) {
  const auto text = r.str("DATABASE_STATEMENTS", "prepared",
                          "prepared (named, per connection) or unnamed (behind PgBouncer in transaction mode)");
  if (text == "unnamed") return StatementMode::unnamed;
  if (text != "prepared") r.fail("DATABASE_STATEMENTS=" + text + " must be prepared or unnamed");
  return StatementMode::prepared;
}

std::unique_ptr<pqxx::connection> pg_connect(const PgSettings& settings) {
  auto conn = std::make_unique<pqxx::connection>(pg_connection_string(settings));
  // Behind a transaction pooler a session setting would stay on whichever
  // server connection ran it: the role carries statement_timeout there.
  if (settings.statements == StatementMode::unnamed) return conn;
  pqxx::nontransaction tx(*conn);
  // An integer of ours, not input: no quoting needed (and GCC 12 raises a
  // false -Wrestrict inside libpqxx 6.4's quote()).
  tx.exec0("SET statement_timeout = " + std::to_string(settings.statement_timeout.count()));
  return conn;
}

PgPool::PgPool(PgSettings settings, Prepare prepare)
    : settings_(std::move(settings)), prepare_(std::move(prepare)), threads_(settings_.pool_size) {
  // A binary makes its pool at start-up: the deployment's choice holds for the process.
  set_statement_mode(settings_.statements);
  for (std::size_t i = 0; i < settings_.pool_size; ++i) {
    slots_.push_back(std::make_unique<Slot>());
    free_.push_back(slots_.back().get());
  }
}

PgPool::~PgPool() {
  stop();
}

void PgPool::stop() {
  threads_.stop();
  threads_.join();
}

PgPool::Slot* PgPool::acquire() {
  // Blocking callers (run_blocking) may outnumber the slots: they wait for one.
  std::unique_lock lock(mutex_);
  slot_freed_.wait(lock, [this] { return !free_.empty(); });
  Slot* slot = free_.back();
  free_.pop_back();
  return slot;
}

void PgPool::release(Slot* slot) {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(slot);
  }
  slot_freed_.notify_one();
}

void PgPool::ensure_open(Slot& slot) {
  if (slot.conn && slot.conn->is_open()) return;
  slot.conn.reset();
  auto conn = pg_connect(settings_);
  if (prepare_) prepare_(*conn);
  slot.conn = std::move(conn);
}

bool is_database_unavailable(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return true;
  if (dynamic_cast<const PgOverloaded*>(&e) != nullptr) return true;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    // 08: connection exception; 57P01-03: admin shutdown, crash shutdown, cannot connect now;
    // 57014: statement timeout (query_canceled); 53: insufficient resources.
    return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03" || state == "57014" ||
           state.starts_with("53");
  }
  return false;
}

}  // namespace fgac
