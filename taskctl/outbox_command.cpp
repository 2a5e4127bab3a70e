// taskctl outbox status | dead | requeue: the operator's view of the outbox.
#include <iomanip>
#include <iostream>

#include "taskctl/commands.hpp"

namespace fgac::taskctl {
namespace {

constexpr const char* kStatusByOp = R"sql(
SELECT CASE desired WHEN 'present' THEN 'register' ELSE 'deregister' END AS op,
       count(*) FILTER (WHERE dead_at IS NULL) AS pending,
       count(*) FILTER (WHERE dead_at IS NOT NULL) AS dead,
       coalesce(extract(epoch FROM now() - min(enqueued_at) FILTER (WHERE dead_at IS NULL)), 0)::bigint AS oldest_s,
       count(*) FILTER (WHERE leased_until > now()) AS in_flight
  FROM authz_outbox GROUP BY 1 ORDER BY 1)sql";

// Dead tuples pile up ahead of the claim until vacuum runs: show them.
constexpr const char* kVacuumStats = R"sql(
SELECT n_live_tup, n_dead_tup, coalesce(last_autovacuum::text, 'never'), coalesce(last_vacuum::text, 'never'),
       autovacuum_count
  FROM pg_stat_user_tables WHERE relname = 'authz_outbox')sql";

constexpr const char* kDeadLetters = R"sql(
SELECT resource_type, resource_id, CASE desired WHEN 'present' THEN 'register' ELSE 'deregister' END,
       attempts, coalesce(last_status::text, '-'), coalesce(last_exception_class, '-'),
       coalesce(last_error, ''), dead_at::text
  FROM authz_outbox WHERE dead_at IS NOT NULL ORDER BY dead_at LIMIT $1)sql";

// Requeue: dead_at back to NULL fires the NOTIFY trigger, so a worker picks it up at once.
constexpr const char* kRequeueOne = R"sql(
UPDATE authz_outbox SET dead_at = NULL, attempts = 0, next_attempt_at = now(),
       last_error = NULL, last_exception_class = NULL, last_status = NULL
 WHERE resource_type = $1 AND resource_id = $2 AND dead_at IS NOT NULL)sql";
constexpr const char* kRequeueAll = R"sql(
UPDATE authz_outbox SET dead_at = NULL, attempts = 0, next_attempt_at = now(),
       last_error = NULL, last_exception_class = NULL, last_status = NULL
 WHERE dead_at IS NOT NULL)sql";

int status(Args& args) {
  auto db = database_settings(args);
  args.expect_no_more();
  auto conn = pg_connect(db);
  pqxx::nontransaction tx(*conn);
  std::cout << std::left << std::setw(12) << "op" << std::setw(10) << "pending" << std::setw(8) << "dead"
            << std::setw(14) << "oldest_age_s"
            << "in_flight\n";
  long long pending = 0;
  long long dead = 0;
  for (const auto& r : tx.exec(kStatusByOp)) {
    std::cout << std::setw(12) << r[0].as<std::string>() << std::setw(10) << r[1].as<long long>() << std::setw(8)
              << r[2].as<long long>() << std::setw(14) << r[3].as<long long>() << r[4].as<long long>() << "\n";
    pending += r[1].as<long long>();
    dead += r[2].as<long long>();
  }
  std::cout << "total: " << pending << " pending, " << dead << " dead\n";
  auto v = tx.exec(kVacuumStats);
  if (!v.empty()) {
    std::cout << "table: " << v[0][0].as<long long>() << " live tuples, " << v[0][1].as<long long>()
              << " dead tuples; last autovacuum " << v[0][2].as<std::string>() << ", last vacuum "
              << v[0][3].as<std::string>() << ", autovacuums " << v[0][4].as<long long>() << "\n";
  }
  return kExitOk;
}

int dead(Args& args) {
  const long long limit = std::stoll(args.option("--limit").value_or("100"));
  auto db = database_settings(args);
  args.expect_no_more();
  auto conn = pg_connect(db);
  pqxx::nontransaction tx(*conn);
  auto rows = tx.exec_params(kDeadLetters, limit);
  for (const auto& r : rows) {
    std::cout << r[0].as<std::string>() << "/" << r[1].as<std::string>() << "  op=" << r[2].as<std::string>()
              << "  attempts=" << r[3].as<long long>() << "  status=" << r[4].as<std::string>()
              << "  class=" << r[5].as<std::string>() << "  dead_at=" << r[7].as<std::string>()
              << "\n    reason: " << r[6].as<std::string>() << "\n";
  }
  std::cout << rows.size() << " dead letter(s)"
            << (static_cast<long long>(rows.size()) == limit ? " (limit reached)" : "") << "\n";
  return kExitOk;
}

int requeue(Args& args) {
  const bool all = args.flag("--all");
  const std::string type = args.option("--resource-type").value_or("task");
  auto db = database_settings(args);
  auto rest = args.positionals();
  if (all == !rest.empty() || rest.size() > 1) throw UsageError("give one resource id, or --all");
  auto conn = pg_connect(db);
  pqxx::work tx(*conn);
  auto r = all ? tx.exec(kRequeueAll) : tx.exec_params(kRequeueOne, type, rest.front());
  tx.commit();
  std::cout << "requeued " << r.affected_rows() << " dead letter(s)\n";
  if (!all && r.affected_rows() == 0) {
    std::cerr << "taskctl: no dead letter for " << type << "/" << rest.front() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int run_outbox(Args& args) {
  auto rest = args.positionals_prefix();
  if (rest == "status") return status(args);
  if (rest == "dead") return dead(args);
  if (rest == "requeue") return requeue(args);
  throw UsageError("outbox needs a subcommand: status, dead or requeue");
}

}  // namespace fgac::taskctl
