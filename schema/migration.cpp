#include "schema/migration.hpp"

#include "common/digest.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <stdexcept>

namespace fgac::schema {

std::vector<Migration> parse_migrations(const std::vector<MigrationFile>& files) {
  std::vector<Migration> out;
  std::set<std::string> versions;
  for (const auto& f : files) {
    const auto& n = f.file_name;
    const bool digits =
        n.size() > 9 && std::all_of(n.begin(), n.begin() + 4, [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || n[4] != '_' || !n.ends_with(".sql")) {
      throw std::invalid_argument("migration file name must look like NNNN_name.sql: " + n);
    }
    Migration m;
    m.version = n.substr(0, 4);
    m.name = n.substr(5, n.size() - 5 - 4);
    m.file_name = n;
    m.sql = f.sql;
    m.checksum = sha256_hex(f.sql);
    m.transactional = !std::string_view(f.sql).starts_with(kNoTransactionMarker);
    if (!versions.insert(m.version).second) throw std::invalid_argument("duplicate migration version " + m.version);
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
  return out;
}

std::vector<std::string> split_sql_statements(std::string_view sql) {
  std::vector<std::string> out;
  std::string current;
  auto flush = [&] {
    const auto first = current.find_first_not_of(" \t\r\n");
    if (first != std::string::npos) out.push_back(current.substr(first));
    current.clear();
  };
  bool meaningful = false;  // the statement holds more than comments and blanks
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {  // line comment
      const auto end = sql.find('\n', i);
      i = end == std::string_view::npos ? sql.size() : end + 1;
      current.push_back('\n');
      continue;
    }
    if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {  // block comment
      const auto end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
      current.push_back(' ');
      continue;
    }
    if (c == '\'' || c == '"') {  // quoted literal or identifier; doubled quotes escape
      std::size_t j = i + 1;
      while (j < sql.size()) {
        if (sql[j] == c) {
          if (j + 1 < sql.size() && sql[j + 1] == c) {
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      const std::size_t end = std::min(j + 1, sql.size());
      current.append(sql.substr(i, end - i));
      meaningful = true;
      i = end;
      continue;
    }
    if (c == '$') {  // dollar quoting: $tag$ ... $tag$
      std::size_t j = i + 1;
      while (j < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[j])) != 0 || sql[j] == '_')) ++j;
      if (j < sql.size() && sql[j] == '$') {
        const std::string_view tag = sql.substr(i, j - i + 1);
        const auto close = sql.find(tag, j + 1);
        const std::size_t end = close == std::string_view::npos ? sql.size() : close + tag.size();
        current.append(sql.substr(i, end - i));
        meaningful = true;
        i = end;
        continue;
      }
    }
    if (c == ';') {
      if (meaningful) flush();
      current.clear();
      meaningful = false;
      ++i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c)) == 0) meaningful = true;
    current.push_back(c);
    ++i;
  }
  if (meaningful) flush();
  return out;
}

}  // namespace fgac::schema
