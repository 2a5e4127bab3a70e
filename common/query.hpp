// A named statement: its SQL and its prepared-statement name in one constant
// (userver's Query{sql, Name}), used at prepare and at every call, so a name
// is never spelled twice. The name doubles as a log label.
#pragma once

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>

namespace fgac {

struct Query {
  const char* name;
  const char* sql;
};

inline void prepare(pqxx::connection& conn, const Query& query) {
  conn.prepare(query.name, query.sql);
}

template <class... Args>
pqxx::result exec(pqxx::transaction_base& tx, const Query& query, Args&&... args) {
  return tx.exec_prepared(query.name, std::forward<Args>(args)...);
}

template <class... Args>
pqxx::row exec1(pqxx::transaction_base& tx, const Query& query, Args&&... args) {
  return tx.exec_prepared1(query.name, std::forward<Args>(args)...);
}

template <class... Args>
void exec0(pqxx::transaction_base& tx, const Query& query, Args&&... args) {
  tx.exec_prepared0(query.name, std::forward<Args>(args)...);
}

// A NULL parameter (libpqxx 6.4 binds a null const char* as NULL).
inline constexpr const char* kNull = nullptr;

// NULL for an unset optional, the text otherwise (a parameter libpqxx 6.4 can bind).
inline const char* nullable(const std::optional<std::string>& value) {
  return value ? value->c_str() : nullptr;
}

}  // namespace fgac
