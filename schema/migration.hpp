// Migration files: parsing, checksums and statement splitting (pure logic).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fgac::schema {

struct MigrationFile {
  std::string file_name;
  std::string sql;
};

struct Migration {
  std::string version;    // "0005"
  std::string name;       // "ix_tasks_creator_user_id"
  std::string file_name;  // "0005_ix_tasks_creator_user_id.sql"
  std::string sql;
  std::string checksum;  // sha256 of the file, hex
  bool transactional = true;
};

// The first line of a file that must run outside a transaction (CREATE INDEX CONCURRENTLY).
inline constexpr std::string_view kNoTransactionMarker = "-- fgac:no-transaction";

const std::vector<MigrationFile>& embedded_migration_files();

// Parses "NNNN_name.sql" files into ordered migrations; throws std::invalid_argument
// on a bad file name or a duplicate version.
std::vector<Migration> parse_migrations(const std::vector<MigrationFile>& files);

// Splits SQL text into statements on top-level semicolons, honouring comments,
// quoted strings, quoted identifiers and dollar quoting. Empty statements are dropped.
std::vector<std::string> split_sql_statements(std::string_view sql);

}  // namespace fgac::schema
