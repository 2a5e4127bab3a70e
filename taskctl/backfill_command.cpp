// taskctl backfill: enqueue a register for every task that was never
// registered (created while FGAC_TASKS_DUAL_WRITE was off), in batches.
#include <iostream>

#include "outbox/outbox.hpp"
#include "outbox/principal.hpp"
#include "taskctl/commands.hpp"
#include "taskctl/progress.hpp"

namespace fgac::taskctl {
namespace {

constexpr long long kDefaultBatch = 1000;

struct Batch {
  long long enqueued = 0;
  long long seen = 0;
  std::string last_id;
};

// One keyset page in one transaction. The principal is rebuilt from the
// creator columns (the account is not recorded on the task, so no tenant tuple).
Batch enqueue_batch(pqxx::connection& conn, const std::string& after, long long limit) {
  pqxx::work tx(conn);
  const auto tasks = outbox::tasks_without_row(tx, false, after, limit);
  std::vector<outbox::RegisterRequest> requests;
  requests.reserve(tasks.size());
  for (const auto& t : tasks) {
    const auto principal = outbox::creator_principal(t.user_id, t.service_account_id);
    requests.push_back({t.task_id, outbox::credential_free_principal(principal).dump()});
  }
  Batch batch{outbox::enqueue_registers(tx, requests), static_cast<long long>(tasks.size()),
              tasks.empty() ? after : tasks.back().task_id};
  tx.commit();
  return batch;
}

}  // namespace

int run_backfill(Args& args) {
  const auto [dry_run, batch, db] = batch_options(args, kDefaultBatch);
  auto conn = outbox_connection(db);
  long long total = 0;
  {
    pqxx::nontransaction tx(*conn);
    total = outbox::count_tasks_without_row(tx, false);
  }
  if (dry_run) {
    std::cout << "would enqueue a register for " << total << " task(s) never registered\n";
    return kExitOk;
  }
  Progress progress("backfill", total);
  long long enqueued = 0;
  long long seen = 0;
  std::string after = outbox::kFirstTaskId;
  for (;;) {
    const auto done = enqueue_batch(*conn, after, batch);
    enqueued += done.enqueued;
    seen += done.seen;
    progress.update(seen);
    if (done.seen < batch) break;
    after = done.last_id;
  }
  progress.finish();
  std::cout << "backfill: enqueued " << enqueued << " register(s) for " << seen << " task(s) never registered"
            << " (batches of " << batch << ")\n";
  return kExitOk;
}

}  // namespace fgac::taskctl
