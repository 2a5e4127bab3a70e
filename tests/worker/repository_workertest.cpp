// The outbox state machine's worker transitions (outbox::WorkerOutbox) against a real database:
// what a claim takes, what each guarded completion does, which statements
// wake the workers, and that claims and retries stay HOT.
#include <doctest/doctest.h>

#include <algorithm>

#include "outbox/outbox.hpp"
#include "tests/worker/harness.hpp"

using namespace fgac::testing;
using namespace fgac::outbox;
using namespace std::chrono;

namespace {

constexpr milliseconds kLease{30000};
constexpr const char* kSentinel = "test-sentinel";

struct Db {
  explicit Db(const std::string& url) : conn(fgac::pg_connect(settings_for(url))) {
    fgac::outbox::prepare_statements(*conn);
  }
  std::unique_ptr<pqxx::connection> conn;
};

// Claims and expects exactly `expected` rows, returned in resource-id order.
std::vector<ClaimedRow> claim_in_id_order(WorkerOutbox& repo, Db& db, std::size_t expected) {
  auto rows = repo.claim(*db.conn, 10, kLease);
  REQUIRE(rows.size() == expected);
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.resource_id < b.resource_id; });
  return rows;
}

std::vector<std::string> ids_of(const std::vector<ClaimedRow>& rows) {
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r.resource_id);
  std::sort(out.begin(), out.end());
  return out;
}

// Rows with ids r0..r(n-1), enqueued one second apart in that order.
void insert_rows(OutboxHarness& h, int n) {
  for (int i = 0; i < n; ++i) {
    h.exec(
        "INSERT INTO authz_outbox (resource_type, resource_id, parent_type, parent_id, principal, desired, "
        "enqueued_at) VALUES ('task', 'r" +
        std::to_string(i) +
        "', 'agent', 'a1', '{\"principal_type\":\"user\",\"user_id\":\"u\"}', 'present', "
        "now() - interval '" +
        std::to_string(100 - i) + " seconds')");
  }
}

// A test's outbox: the harness (a fresh database), a worker's connection and the worker "me".
struct Repo {
  OutboxHarness h;
  Db db{h.database_url()};
  WorkerOutbox repo{"me"};
};

}  // namespace

TEST_CASE_FIXTURE(Repo,
                  "repository: a claim takes due, unleased, live rows oldest first, up to the limit, and leases them") {
  insert_rows(h, 6);
  h.exec("UPDATE authz_outbox SET dead_at = now() WHERE resource_id = 'r0'");
  h.exec("UPDATE authz_outbox SET next_attempt_at = now() + interval '1 hour' WHERE resource_id = 'r1'");
  h.exec(
      "UPDATE authz_outbox SET leased_until = now() + interval '1 hour', leased_by = 'other' "
      "WHERE resource_id = 'r2'");
  h.exec(
      "UPDATE authz_outbox SET leased_until = now() - interval '1 second', leased_by = 'crashed' "
      "WHERE resource_id = 'r3'");  // lapsed: claimable again

  auto first = repo.claim(*db.conn, 2, kLease);
  CHECK(ids_of(first) == std::vector<std::string>{"r3", "r4"});
  for (const auto& row : first) {
    CHECK(row.op == Op::register_);
    CHECK(row.generation == 1);
    CHECK(row.attempts == 1);
    CHECK(row.parent_id == "a1");
    CHECK(row.principal.find("\"user_id\"") != std::string::npos);
    CHECK(row.enqueued_at > 0);
  }
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE leased_by = 'me' AND sent AND attempts = 1 AND "
                 "leased_until > now() + interval '25 seconds'") == 2);
  CHECK(ids_of(repo.claim(*db.conn, 10, kLease)) == std::vector<std::string>{"r5"});
  CHECK(repo.claim(*db.conn, 10, kLease).empty());
}

TEST_CASE_FIXTURE(Repo, "repository: a claim skips rows another transaction holds locked (SKIP LOCKED)") {
  insert_rows(h, 2);
  Db holder(h.database_url());
  pqxx::work lock(*holder.conn);
  lock.exec("SELECT 1 FROM authz_outbox WHERE resource_id = 'r0' FOR UPDATE");
  CHECK(ids_of(repo.claim(*db.conn, 10, kLease)) == std::vector<std::string>{"r1"});
  lock.abort();
  CHECK(ids_of(repo.claim(*db.conn, 10, kLease)) == std::vector<std::string>{"r0"});
}

TEST_CASE_FIXTURE(
    Repo, "repository: completing the claimed generation deletes the row and writes the zedtoken onto the task") {
  const auto agent_id = h.create_agent("agent-repo");
  const auto task_id = h.create_task(agent_id);
  auto rows = repo.claim(*db.conn, 10, kLease);
  REQUIRE(rows.size() == 1);
  CHECK(repo.complete(*db.conn, rows[0], std::string("zed-1")));
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox") == 0);
  CHECK(h.text("SELECT authz_zedtoken FROM tasks WHERE id = '" + task_id + "'") == "zed-1");
  CHECK(h.scalar("SELECT count(*) FROM tasks WHERE authz_synced_at > now() - interval '1 minute'") == 1);
}

TEST_CASE_FIXTURE(Repo, "repository: a completion whose desire changed meanwhile keeps the row and frees it at once") {
  insert_rows(h, 1);
  auto rows = repo.claim(*db.conn, 10, kLease);
  REQUIRE(rows.size() == 1);
  h.exec(
      "UPDATE authz_outbox SET desired = 'absent', generation = generation + 1, attempts = 0, "
      "next_attempt_at = now(), enqueued_at = now()");
  CHECK_FALSE(repo.complete(*db.conn, rows[0], std::string("zed-old")));
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE leased_by IS NULL AND leased_until IS NULL") == 1);
  auto next = repo.claim(*db.conn, 10, kLease);  // the newer desire, claimable now
  REQUIRE(next.size() == 1);
  CHECK(next[0].op == Op::deregister);
  CHECK(next[0].generation == 2);
  // Retry and dead-letter of the stale generation are guarded the same way.
  CHECK_FALSE(repo.retry(*db.conn, rows[0], seconds(60), {"ServiceError", 500U, "late"}));
  CHECK_FALSE(repo.dead_letter(*db.conn, rows[0], {"ServiceError", 400U, "late"}));
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE dead_at IS NULL AND next_attempt_at <= now()") == 1);
}

TEST_CASE("repository: a worker whose lease was taken over cannot complete, retry or dead-letter the row") {
  OutboxHarness h;
  insert_rows(h, 1);
  Db db(h.database_url());
  WorkerOutbox slow("slow");
  WorkerOutbox fast("fast");
  auto rows = slow.claim(*db.conn, 10, kLease);
  REQUIRE(rows.size() == 1);
  h.exec("UPDATE authz_outbox SET leased_until = now() - interval '1 second'");  // the lease lapsed
  REQUIRE(fast.claim(*db.conn, 10, kLease).size() == 1);
  CHECK_FALSE(slow.complete(*db.conn, rows[0], std::nullopt));
  CHECK_FALSE(slow.retry(*db.conn, rows[0], seconds(1), {"ServiceError", 500U, "x"}));
  CHECK_FALSE(slow.dead_letter(*db.conn, rows[0], {"ServiceError", 400U, "x"}));
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE leased_by = 'fast' AND dead_at IS NULL") == 1);
}

TEST_CASE_FIXTURE(
    Repo, "repository: one statement completes a batch, each delivery by its own claimed generation and lease") {
  const auto agent_id = h.create_agent("agent-batch");
  const auto first = h.create_task(agent_id);
  const auto second = h.create_task(agent_id);
  insert_rows(h, 3);  // r0 (its desire changes meanwhile), r1 (another worker takes it over), r2 (plain)
  auto rows = repo.claim(*db.conn, 10, kLease);
  REQUIRE(rows.size() == 5);
  h.exec("UPDATE authz_outbox SET desired = 'absent', generation = generation + 1 WHERE resource_id = 'r0'");
  h.exec("UPDATE authz_outbox SET leased_by = 'other' WHERE resource_id = 'r1'");
  std::vector<Delivered> batch;
  batch.reserve(rows.size());
  for (const auto& row : rows) batch.push_back({.row = &row, .zedtoken = "zed-" + row.resource_id});
  const auto applied = repo.complete(*db.conn, std::span<const Delivered>(batch));
  REQUIRE(applied.size() == rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& id = rows[i].resource_id;
    CAPTURE(id);
    CHECK(applied[i] == (id != "r0" && id != "r1"));
  }
  CHECK(h.text("SELECT authz_zedtoken FROM tasks WHERE id = '" + first + "'") == "zed-" + first);
  CHECK(h.text("SELECT authz_zedtoken FROM tasks WHERE id = '" + second + "'") == "zed-" + second);
  // The superseded row is free for its newer desire at once; the other worker's row is untouched.
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE resource_id = 'r0' AND leased_by IS NULL") == 1);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE resource_id = 'r1' AND leased_by = 'other'") == 1);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox") == 2);
}

TEST_CASE_FIXTURE(
    Repo, "repository: rows handed back undelivered are due at once and their claim is not counted as an attempt") {
  insert_rows(h, 3);
  WorkerOutbox other("other");
  auto rows = claim_in_id_order(repo, db, 3);
  h.exec("UPDATE authz_outbox SET generation = generation + 1 WHERE resource_id = 'r2'");  // changed meanwhile
  CHECK(repo.release_undelivered(*db.conn, std::span<const ClaimedRow>(rows)) == 2);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE leased_by IS NULL AND attempts = 0") == 2);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE resource_id = 'r2' AND leased_by = 'me'") == 1);
  CHECK(ids_of(other.claim(*db.conn, 10, kLease)) == std::vector<std::string>{"r0", "r1"});
}

TEST_CASE_FIXTURE(Repo,
                  "repository: a retry reschedules with the reason kept; a dead letter keeps status and message") {
  insert_rows(h, 2);
  auto rows = claim_in_id_order(repo, db, 2);
  CHECK(repo.retry(*db.conn, rows[0], seconds(60), {"AuthenticationServiceUnavailableError", std::nullopt, "timeout"}));
  CHECK(repo.dead_letter(*db.conn, rows[1], {"ServiceError", 422U, std::string(2000, 'x')}));
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE resource_id = 'r0' AND leased_by IS NULL AND "
                 "next_attempt_at > now() + interval '50 seconds' AND last_status IS NULL AND last_error = 'timeout' "
                 "AND last_exception_class = 'AuthenticationServiceUnavailableError'") == 1);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE resource_id = 'r1' AND dead_at IS NOT NULL AND "
                 "last_status = 422 AND last_exception_class = 'ServiceError' AND length(last_error) <= 500") == 1);
  CHECK(repo.claim(*db.conn, 10, kLease).empty());  // neither is due
  CHECK(WorkerOutbox::gauges(*db.conn).pending == 1);
  CHECK(WorkerOutbox::gauges(*db.conn).dead == 1);
  CHECK(WorkerOutbox::gauges(*db.conn).oldest_pending_age_seconds >= 99);
}

TEST_CASE_FIXTURE(Repo,
                  "repository: error text that is long, multi-byte, invalid UTF-8 or holds a NUL is still recorded") {
  insert_rows(h, 2);
  auto rows = claim_in_id_order(repo, db, 2);
  // 3-byte characters: a cut at byte 500 would fall inside one.
  std::string euros;
  for (int i = 0; i < 400; ++i) euros += "\xE2\x82\xAC";
  CHECK(repo.retry(*db.conn, rows[0], seconds(60), {"ServiceError", 500U, euros}));
  CHECK(repo.dead_letter(*db.conn, rows[1], {"ServiceError", 400U, std::string("bad \xFF\xFE and \0 nul", 16)}));
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE resource_id = 'r0' AND last_status = 500 "
                 "AND octet_length(last_error) = 498 AND last_error = repeat(U&'\\20AC', 166)") == 1);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE resource_id = 'r1' AND dead_at IS NOT NULL "
                 "AND last_error = U&'bad \\FFFD\\FFFD and \\FFFD nul'") == 1);
}

TEST_CASE("repository: release_all hands back only this worker's leases") {
  OutboxHarness h;
  insert_rows(h, 3);
  Db db(h.database_url());
  WorkerOutbox me("me");
  WorkerOutbox other("other");
  REQUIRE(me.claim(*db.conn, 2, kLease).size() == 2);
  REQUIRE(other.claim(*db.conn, 2, kLease).size() == 1);
  CHECK(me.release_all(*db.conn) == 2);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE leased_by IS NULL AND leased_until IS NULL") == 2);
  CHECK(h.scalar("SELECT count(*) FROM authz_outbox WHERE leased_by = 'other'") == 1);
}

TEST_CASE_FIXTURE(Repo, "repository: inserts and requeues wake the workers; claims, retries and dead letters do not") {
  Db listener(h.database_url());
  // Counts the notifications before a sentinel. Postgres delivers a channel's
  // notifications in commit order, so once the sentinel (sent after the
  // statements under test committed) has arrived, so has any they caused.
  int notified = 0;
  bool sentinel_seen = false;
  struct Receiver : pqxx::notification_receiver {
    Receiver(pqxx::connection_base& c, int& n, bool& s)
        : pqxx::notification_receiver(c, "authz_outbox"), count(n), sentinel(s) {}
    void operator()(const std::string& payload, int) override {
      if (payload == kSentinel) {
        sentinel = true;
      } else {
        ++count;
      }
    }
    int& count;
    bool& sentinel;
  } receiver(*listener.conn, notified, sentinel_seen);
  listener.conn->get_notifs();
  auto drain = [&] {
    h.exec(std::string("NOTIFY authz_outbox, '") + kSentinel + "'");
    const auto deadline = steady_clock::now() + seconds(5);
    while (!sentinel_seen && steady_clock::now() < deadline) listener.conn->await_notification(0, 100000);
    REQUIRE(sentinel_seen);
    sentinel_seen = false;
    const int n = notified;
    notified = 0;
    return n;
  };

  insert_rows(h, 2);
  CHECK(drain() == 2);  // one per inserting transaction
  auto rows = claim_in_id_order(repo, db, 2);
  CHECK(drain() == 0);
  CHECK(repo.retry(*db.conn, rows[0], milliseconds(1), {"ServiceError", 500U, "x"}));
  CHECK(repo.dead_letter(*db.conn, rows[1], {"ServiceError", 400U, "x"}));
  CHECK(drain() == 0);
  auto again = repo.claim(*db.conn, 10, kLease);
  REQUIRE(again.size() == 1);
  CHECK(repo.complete(*db.conn, again[0], std::nullopt));
  CHECK(drain() == 0);
  auto requeue = h.taskctl({"outbox", "requeue", "--all"});
  CHECK(requeue.exit_code == 0);
  CHECK(drain() == 1);
}

TEST_CASE("repository: claims and retries are HOT updates (no index entries, no bloat from leases)") {
  OutboxHarness h;
  insert_rows(h, 20);
  {
    Db db(h.database_url());
    WorkerOutbox repo("me");
    auto rows = repo.claim(*db.conn, 20, kLease);
    REQUIRE(rows.size() == 20);
    for (const auto& row : rows) CHECK(repo.retry(*db.conn, row, milliseconds(1), {"ServiceError", 500U, "x"}));
  }  // a closing backend flushes its statistics
  // 20 claim updates + 20 retry updates.
  auto stat = [&](const char* column) {
    return h.scalar(std::string("SELECT ") + column + " FROM pg_stat_user_tables WHERE relname = 'authz_outbox'");
  };
  REQUIRE(eventually([&] { return stat("n_tup_upd") >= 40; }, seconds(5)));
  CHECK(stat("n_tup_hot_upd") == stat("n_tup_upd"));
}
