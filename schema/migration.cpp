#include "schema/migration.hpp"

#include "common/digest.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
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

namespace {

// Where a "--" comment that starts at `start` ends: past its newline, or at
// the end of the text.
std::size_t line_comment_end(std::string_view sql, std::size_t start) {
  const auto end = sql.find('\n', start);
  return end == std::string_view::npos ? sql.size() : end + 1;
}

std::size_t block_comment_end(std::string_view sql, std::size_t start) {
  const auto end = sql.find("*/", start + 2);
  return end == std::string_view::npos ? sql.size() : end + 2;
}

// Where a quoted literal or identifier that opens at `start` ends (past its
// closing quote, or at the end of the text); a doubled quote is an escaped one.
std::size_t quoted_end(std::string_view sql, std::size_t start) {
  const char quote = sql[start];
  std::size_t j = start + 1;
  while (j < sql.size()) {
    if (sql[j] == quote) {
      if (j + 1 < sql.size() && sql[j + 1] == quote) {
        j += 2;
        continue;
      }
      break;
    }
    ++j;
  }
  return std::min(j + 1, sql.size());
}

// Where a dollar-quoted string ($tag$ ... $tag$) that opens at `start` ends;
// nullopt when the '$' there opens no tag.
std::optional<std::size_t> dollar_quoted_end(std::string_view sql, std::size_t start) {
  std::size_t j = start + 1;
  while (j < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[j])) != 0 || sql[j] == '_')) ++j;
  if (j >= sql.size() || sql[j] != '$') return std::nullopt;
  const std::string_view tag = sql.substr(start, j - start + 1);
  const auto close = sql.find(tag, j + 1);
  return close == std::string_view::npos ? sql.size() : close + tag.size();
}

}  // namespace

std::vector<std::string> split_sql_statements(std::string_view sql) {
  std::vector<std::string> out;
  std::string current;
  bool meaningful = false;  // the statement holds more than comments and blanks
  auto end_statement = [&] {
    const auto first = current.find_first_not_of(" \t\r\n");
    if (meaningful && first != std::string::npos) out.push_back(current.substr(first));
    current.clear();
    meaningful = false;
  };
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    const std::string_view rest = sql.substr(i);
    if (rest.starts_with("--")) {
      i = line_comment_end(sql, i);
      current.push_back('\n');
      continue;
    }
    if (rest.starts_with("/*")) {
      i = block_comment_end(sql, i);
      current.push_back(' ');
      continue;
    }
    std::optional<std::size_t> quoted;
    if (c == '\'' || c == '"') {
      quoted = quoted_end(sql, i);
    } else if (c == '$') {
      quoted = dollar_quoted_end(sql, i);
    }
    if (quoted) {
      current.append(sql.substr(i, *quoted - i));
      meaningful = true;
      i = *quoted;
      continue;
    }
    if (c == ';') {
      end_statement();
      ++i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c)) == 0) meaningful = true;
    current.push_back(c);
    ++i;
  }
  end_statement();
  return out;
}

}  // namespace fgac::schema
