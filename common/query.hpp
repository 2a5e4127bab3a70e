// A named statement: its SQL and its prepared-statement name in one constant
// (userver's Query{sql, Name}), used at prepare and at every call, so a name
// is never spelled twice. The name doubles as a log label.
#pragma once

#include <atomic>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>

namespace fgac {

// How statements reach Postgres (DATABASE_STATEMENTS): named prepared
// statements, prepared once per connection (the default), or unnamed
// parameterized ones (PQexecParams), which survive a pooler in transaction
// mode (PgBouncer) because they hold nothing in the session. One choice per
// process, set at start-up by the binary's PgPool from its settings;
// unnamed statements also work on a direct connection.
enum class StatementMode { prepared, unnamed };

inline std::atomic<StatementMode>& statement_mode_slot() {
  static std::atomic<StatementMode> mode{StatementMode::prepared};
  return mode;
}
inline void set_statement_mode(StatementMode mode) {
  statement_mode_slot().store(mode, std::memory_order_relaxed);
}
inline StatementMode statement_mode() {
  return statement_mode_slot().load(std::memory_order_relaxed);
}

struct Query {
  const char* name;
  const char* sql;
};

inline void prepare(pqxx::connection& conn, const Query& query) {
  if (statement_mode() == StatementMode::prepared) conn.prepare(query.name, query.sql);
}

template <class... Args>
pqxx::result exec(pqxx::transaction_base& tx, const Query& query, Args&&... args) {
  if (statement_mode() == StatementMode::prepared) return tx.exec_prepared(query.name, std::forward<Args>(args)...);
  return tx.exec_params(query.sql, std::forward<Args>(args)...);
}

template <class... Args>
pqxx::row exec1(pqxx::transaction_base& tx, const Query& query, Args&&... args) {
  if (statement_mode() == StatementMode::prepared) return tx.exec_prepared1(query.name, std::forward<Args>(args)...);
  return tx.exec_params1(query.sql, std::forward<Args>(args)...);
}

template <class... Args>
void exec0(pqxx::transaction_base& tx, const Query& query, Args&&... args) {
  if (statement_mode() == StatementMode::prepared) {
    tx.exec_prepared0(query.name, std::forward<Args>(args)...);
  } else {
    tx.exec_params0(query.sql, std::forward<Args>(args)...);
  }
}

// A NULL parameter (libpqxx 6.4 binds a null const char* as NULL).
inline constexpr const char* kNull = nullptr;

// NULL for an unset optional, the text otherwise (a parameter libpqxx 6.4 can bind).
inline const char* nullable(const std::optional<std::string>& value) {
  return value ? value->c_str() : nullptr;
}

}  // namespace fgac
