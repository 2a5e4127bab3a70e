// taskctl backfill: enqueue a register for every task that was never
// registered (created while FGAC_TASKS_DUAL_WRITE was off), in batches.
//
// Paced so that it cannot starve live traffic: the worker claims oldest
// first, so a million rows enqueued at once would put every live create's
// register behind them (minutes of lag). Before each batch it waits until
// fewer than --max-pending rows are waiting in the outbox: the backlog ahead
// of a live create stays below that (max-pending ÷ the drain rate), while the
// worker still always has work, so the backfill runs at the worker's pace.
// --rate caps it further (rows per second) when the authz service is shared.
// It keeps no state: a run that is killed is simply started again (tasks that
// got their row or were registered meanwhile are skipped).
#include <chrono>
#include <iostream>
#include <thread>

#include "outbox/outbox.hpp"
#include "outbox/principal.hpp"
#include "taskctl/commands.hpp"
#include "taskctl/progress.hpp"

namespace fgac::taskctl {
namespace {

constexpr long long kDefaultBatch = 1000;
constexpr long long kDefaultMaxPending = 1000;
constexpr auto kRoomPoll = std::chrono::milliseconds(50);

struct Pace {
  long long max_pending = kDefaultMaxPending;  // 0: no cap
  double rate = 0;                             // rows per second; 0: no cap
};

Pace pace_options(Args& args) {
  Pace pace;
  pace.max_pending = args.whole("--max-pending", 0).value_or(kDefaultMaxPending);  // 0: no cap
  pace.rate = args.decimal("--rate", 0).value_or(0);                               // 0: no cap
  return pace;
}

// Waits (reporting it) until the outbox has room for a step, and returns how
// many rows to enqueue next: at most `batch`, and at most what keeps the
// outbox within max_pending.
long long wait_for_room(pqxx::connection& conn, const Pace& pace, long long batch, Progress& progress, long long done) {
  if (pace.max_pending == 0) return batch;
  // The smallest step worth its round trips.
  const long long step = std::max(1LL, std::min(batch, pace.max_pending / 4));
  for (bool first = true;; first = false) {
    long long pending = 0;
    {
      pqxx::nontransaction tx(conn);
      pending = outbox::pending_up_to(tx, pace.max_pending);
    }
    const long long room = pace.max_pending - pending;
    if (room >= step) return std::min(batch, room);
    progress.update(done, "waiting: " + std::to_string(pending) + " rows pending (--max-pending)", first);
    std::this_thread::sleep_for(kRoomPoll);  // pacing, not a wait for a test
  }
}

// With --rate: sleeps until `enqueued` rows are due since `started`.
void keep_rate(const Pace& pace, std::chrono::steady_clock::time_point started, long long enqueued) {
  if (pace.rate <= 0) return;
  const auto due = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(static_cast<double>(enqueued) / pace.rate));
  std::this_thread::sleep_until(due);
}

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
  const Pace pace = pace_options(args);
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
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    const long long limit = wait_for_room(*conn, pace, batch, progress, seen);
    const auto done = enqueue_batch(*conn, after, limit);
    enqueued += done.enqueued;
    seen += done.seen;
    progress.update(seen);
    if (done.seen < limit) break;
    after = done.last_id;
    keep_rate(pace, started, enqueued);
  }
  progress.finish();
  std::cout << "backfill: enqueued " << enqueued << " register(s) for " << seen << " task(s) never registered"
            << " (batches of " << batch << ", --max-pending " << pace.max_pending << ")\n";
  return kExitOk;
}

}  // namespace fgac::taskctl
