// taskctl backfill: enqueue a register for every task that was never
// registered (created while FGAC_TASKS_DUAL_WRITE was off), in batches.
#include <iostream>

#include "taskctl/commands.hpp"
#include "taskctl/progress.hpp"

namespace fgac::taskctl {
namespace {

constexpr const char* kCountCandidates = R"sql(
SELECT count(*) FROM tasks t
 WHERE t.authz_synced_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM authz_outbox o WHERE o.resource_type = 'task' AND o.resource_id = t.id::text))sql";

// One batch, keyset-paginated by id. The principal is rebuilt from the creator
// columns (the account is not recorded on the task, so no tenant tuple).
constexpr const char* kEnqueueBatch = R"sql(
WITH candidates AS (
  SELECT t.id, ta.agent_id, t.creator_user_id, t.creator_service_account_id
    FROM tasks t
    LEFT JOIN LATERAL (SELECT agent_id FROM task_agents WHERE task_id = t.id ORDER BY created_at LIMIT 1) ta ON true
   WHERE t.authz_synced_at IS NULL AND t.id > $1::uuid
     AND NOT EXISTS (SELECT 1 FROM authz_outbox o WHERE o.resource_type = 'task' AND o.resource_id = t.id::text)
   ORDER BY t.id
   LIMIT $2),
enqueued AS (
  INSERT INTO authz_outbox (resource_type, resource_id, parent_type, parent_id, principal, desired, generation, enqueued_at)
  SELECT 'task', c.id::text, CASE WHEN c.agent_id IS NULL THEN NULL ELSE 'agent' END, c.agent_id::text,
         CASE WHEN c.creator_user_id IS NOT NULL
                THEN jsonb_build_object('principal_type', 'user', 'user_id', c.creator_user_id)
              WHEN c.creator_service_account_id IS NOT NULL
                THEN jsonb_build_object('principal_type', 'service_account', 'service_account_id', c.creator_service_account_id)
              ELSE '{}'::jsonb END,
         'present', 1, now()
    FROM candidates c
  ON CONFLICT DO NOTHING
  RETURNING 1)
SELECT (SELECT count(*) FROM enqueued), (SELECT count(*) FROM candidates),
       (SELECT id::text FROM candidates ORDER BY id DESC LIMIT 1))sql";

constexpr const char* kFirstId = "00000000-0000-0000-0000-000000000000";

}  // namespace

int run_backfill(Args& args) {
  const bool dry_run = args.flag("--dry-run");
  const long long batch = std::stoll(args.option("--batch").value_or("1000"));
  if (batch < 1) throw UsageError("--batch must be at least 1");
  auto db = database_settings(args);
  args.expect_no_more();
  auto conn = pg_connect(db);
  long long total = 0;
  {
    pqxx::nontransaction tx(*conn);
    total = tx.exec1(kCountCandidates)[0].as<long long>();
  }
  if (dry_run) {
    std::cout << "would enqueue a register for " << total << " task(s) never registered\n";
    return kExitOk;
  }
  Progress progress("backfill", total);
  long long enqueued = 0;
  long long seen = 0;
  std::string after = kFirstId;
  for (;;) {
    pqxx::work tx(*conn);
    auto row = tx.exec_params1(kEnqueueBatch, after, batch);
    tx.commit();
    enqueued += row[0].as<long long>();
    const long long in_batch = row[1].as<long long>();
    seen += in_batch;
    progress.update(seen);
    if (in_batch < batch) break;
    after = row[2].as<std::string>();
  }
  progress.finish();
  std::cout << "backfill: enqueued " << enqueued << " register(s) for " << seen << " task(s) never registered"
            << " (batches of " << batch << ")\n";
  return kExitOk;
}

}  // namespace fgac::taskctl
