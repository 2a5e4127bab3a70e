// taskctl outbox status | dead | requeue: the operator's view of the outbox.
#include <iomanip>
#include <iostream>

#include "outbox/outbox.hpp"
#include "taskctl/commands.hpp"

namespace fgac::taskctl {
std::unique_ptr<pqxx::connection> outbox_connection(const PgSettings& db) {
  auto conn = pg_connect(db);
  outbox::prepare_statements(*conn);
  return conn;
}

BatchOptions batch_options(Args& args, long long default_batch) {
  BatchOptions options;
  options.dry_run = args.flag("--dry-run");
  options.batch = args.whole("--batch", 1).value_or(default_batch);
  options.database = database_settings(args);
  args.expect_no_more();
  return options;
}

namespace {

constexpr long long kDefaultDeadLimit = 100;

int status(Args& args) {
  auto db = database_settings(args);
  args.expect_no_more();
  auto conn = outbox_connection(db);
  pqxx::nontransaction tx(*conn);
  std::cout << std::left << std::setw(12) << "op" << std::setw(10) << "pending" << std::setw(8) << "dead"
            << std::setw(14) << "oldest_age_s"
            << "in_flight\n";
  long long pending = 0;
  long long dead = 0;
  for (const auto& s : outbox::status_by_op(tx)) {
    std::cout << std::setw(12) << s.op << std::setw(10) << s.pending << std::setw(8) << s.dead << std::setw(14)
              << s.oldest_age_s << s.in_flight << "\n";
    pending += s.pending;
    dead += s.dead;
  }
  std::cout << "total: " << pending << " pending, " << dead << " dead\n";
  if (auto v = outbox::table_stats(tx)) {
    std::cout << "table: " << v->live_tuples << " live tuples, " << v->dead_tuples << " dead tuples; last autovacuum "
              << v->last_autovacuum << ", last vacuum " << v->last_vacuum << ", autovacuums " << v->autovacuum_count
              << "\n";
  }
  return kExitOk;
}

int dead(Args& args) {
  const long long limit = args.whole("--limit", 1).value_or(kDefaultDeadLimit);
  auto db = database_settings(args);
  args.expect_no_more();
  auto conn = outbox_connection(db);
  pqxx::nontransaction tx(*conn);
  const auto rows = outbox::dead_letters(tx, limit);
  for (const auto& d : rows) {
    std::cout << d.resource_type << "/" << d.resource_id << "  op=" << d.op << "  attempts=" << d.attempts
              << "  status=" << d.status << "  class=" << d.exception_class << "  dead_at=" << d.dead_at
              << "\n    reason: " << d.error << "\n";
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
  auto conn = outbox_connection(db);
  pqxx::work tx(*conn);
  const long long requeued = all ? outbox::requeue_all(tx) : outbox::requeue(tx, type, rest.front());
  tx.commit();
  std::cout << "requeued " << requeued << " dead letter(s)\n";
  if (!all && requeued == 0) {
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
