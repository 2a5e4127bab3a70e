# Generates a C++ source holding every migration file, so that taskctl carries
# its schema with it (one binary in the container, no file lookup at run time).
file(GLOB files "${MIGRATIONS_DIR}/*.sql")
list(SORT files)
set(body "// Generated from schema/migrations by embed_migrations.cmake. Do not edit.\n#include \"schema/migration.hpp\"\n\nnamespace fgac::schema {\n\nconst std::vector<MigrationFile>& embedded_migration_files() {\n  static const std::vector<MigrationFile> files{\n")
foreach(f IN LISTS files)
  get_filename_component(name "${f}" NAME)
  file(READ "${f}" content)
  string(APPEND body "      {\"${name}\", R\"fgacsql(${content})fgacsql\"},\n")
endforeach()
string(APPEND body "  };\n  return files;\n}\n\n}  // namespace fgac::schema\n")
file(WRITE "${OUTPUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
