// The outbox is written in the task's own transaction, and only with dual-write on.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "common/outbox_channel.hpp"
#include "tests/support/api_fixture.hpp"

using namespace fgac::testing;
using namespace std::chrono_literals;

namespace {

// The API with one of Alice's tasks, "t-1" of "agent-o", its register row just enqueued.
struct OneTask {
  ApiFixture api;
  nlohmann::json task;
  std::string id;

  OneTask() {
    api.agent("agent-o");
    task = api.task("agent-o", "t-1");
    id = task["id"].get<std::string>();
  }
  // The task's outbox rows that match `condition`.
  long long outbox_rows(const std::string& condition) {
    return api.scalar("SELECT count(*) FROM authz_outbox WHERE resource_type = 'task' AND resource_id = '" + id +
                      "' AND " + condition);
  }
};

}  // namespace

TEST_CASE_FIXTURE(OneTask, "outbox: create writes one register row in the same transaction") {
  CHECK(outbox_rows("desired = 'present' AND generation = 1 AND parent_type = 'agent' AND parent_id = '" +
                    task["agent_id"].get<std::string>() + "' AND NOT sent") == 1);
  CHECK(api.scalar("SELECT count(*) FROM authz_outbox") == 1);
}

TEST_CASE("outbox: a create whose transaction fails leaves neither a task row nor an outbox row") {
  ApiFixture api;
  api.agent("agent-f");
  REQUIRE(api.post("/tasks", {{"agent_name", "agent-f"}, {"name", "dup"}}).status == 201);
  auto again = api.post("/tasks", {{"agent_name", "agent-f"}, {"name", "dup"}});
  CHECK(again.status == 400);
  CHECK(api.scalar("SELECT count(*) FROM tasks") == 1);
  CHECK(api.scalar("SELECT count(*) FROM authz_outbox") == 1);
  CHECK(api.scalar("SELECT count(*) FROM task_agents") == 1);
  auto unknown_agent = api.post("/tasks", {{"agent_name", "no-such-agent"}, {"name", "orphan"}});
  CHECK(unknown_agent.status == 422);
  CHECK(api.scalar("SELECT count(*) FROM tasks") == 1);
  CHECK(api.scalar("SELECT count(*) FROM authz_outbox") == 1);
}

TEST_CASE("outbox: with the flag off no outbox rows are written and authz_status is disabled") {
  ApiFixture api({.dual_write = false});
  api.agent("agent-off");
  const auto t = api.task("agent-off", "off-1");
  CHECK(t["authz_status"] == "disabled");
  CHECK(t["creator_user_id"] == "user-alice");
  CHECK(api.call("DELETE", "/tasks/name/off-1").status == 200);
  CHECK(api.scalar("SELECT count(*) FROM authz_outbox") == 0);
}

TEST_CASE_FIXTURE(OneTask, "outbox: create then delete before any delivery leaves no outbox row") {
  CHECK(api.call("DELETE", "/tasks/" + id).status == 200);
  CHECK(api.scalar("SELECT count(*) FROM authz_outbox") == 0);
  CHECK(api.scalar("SELECT count(*) FROM tasks") == 0);
}

TEST_CASE_FIXTURE(OneTask, "outbox: deleting a task whose register was sent flips the desire under a new generation") {
  // A worker claimed it (sent) and is retrying after a failure.
  api.exec("UPDATE authz_outbox SET sent = true, attempts = 3, last_error = 'boom'");
  CHECK(api.call("DELETE", "/tasks/" + id).status == 200);
  CHECK(outbox_rows("desired = 'absent' AND generation = 2 AND attempts = 0 AND last_error IS NULL") == 1);
}

TEST_CASE_FIXTURE(OneTask, "outbox: deleting a task that was delivered enqueues a deregister") {
  // What the worker does on a delivered register.
  api.exec("WITH u AS (UPDATE tasks SET authz_synced_at = now(), authz_zedtoken = 'zt') DELETE FROM authz_outbox");
  auto synced = api.call("GET", "/tasks/" + id).json();
  CHECK(synced["authz_status"] == "synced");
  CHECK(synced["authz_zedtoken"] == "zt");
  CHECK(api.call("DELETE", "/tasks/" + id).status == 200);
  CHECK(outbox_rows("desired = 'absent' AND generation = 1") == 1);
}

TEST_CASE_FIXTURE(OneTask, "outbox: a dead letter shows as dead") {
  api.exec("UPDATE authz_outbox SET sent = true, dead_at = now()");
  CHECK(api.call("GET", "/tasks/" + id).json()["authz_status"] == "dead");
}

TEST_CASE("outbox: the partial creator indexes and the task_metadata GIN index serve their filters (EXPLAIN)") {
  ApiFixture api;
  const auto agent_id = api.agent("agent-x");
  api.exec(
      "INSERT INTO tasks (id, name, status, creator_user_id, creator_service_account_id, task_metadata) "
      "SELECT gen_random_uuid(), 'bulk-' || g, 'RUNNING', CASE WHEN g % 2 = 0 THEN 'user-' || g END, "
      "CASE WHEN g % 2 = 1 THEN 'sa-' || g END, jsonb_build_object('team', 'team-' || g % 5000) "
      "FROM generate_series(1, 20000) g");
  {
    auto conn = fgac::pg_connect(settings_for(api.database_url()));
    pqxx::nontransaction tx(*conn);
    tx.exec0("ANALYZE tasks");
    fgac::api::TaskRepository repo(true);
    fgac::api::TaskFilter by_user;
    by_user.creator_user_id = "user-42";
    fgac::api::TaskFilter by_sa;
    by_sa.creator_service_account_id = "sa-43";
    fgac::api::TaskFilter by_metadata;  // containment: the GIN index of migration 0013
    by_metadata.task_metadata = R"({"team":"team-42"})";
    for (const auto& [filter, index] :
         {std::pair{by_user, "ix_tasks_creator_user_id"}, std::pair{by_sa, "ix_tasks_creator_service_account_id"},
          std::pair{by_metadata, "ix_tasks_task_metadata"}}) {
      auto q = repo.build_list_tasks_query(filter);
      auto plan = tx.exec_params("EXPLAIN " + q.sql, pqxx::prepare::make_dynamic_params(q.params));
      std::string text;
      for (const auto& row : plan) text += row[0].as<std::string>() + "\n";
      CAPTURE(text);
      CHECK(text.find(index) != std::string::npos);
    }
  }
  (void)agent_id;
}

namespace {

// LISTENs like a worker and tells which backends sent each wake-up.
class WakeupListener {
 public:
  explicit WakeupListener(const std::string& url)
      : conn_(fgac::pg_connect(settings_for(url))), receiver_(*conn_, senders_) {
    conn_->get_notifs();
  }
  // The application_name of every session that notified within `window`.
  std::vector<std::string> senders_within(std::chrono::milliseconds window) {
    senders_.clear();
    const auto deadline = std::chrono::steady_clock::now() + window;
    while (std::chrono::steady_clock::now() < deadline) conn_->await_notification(0, 50000);
    std::vector<std::string> names;
    for (int pid : senders_) {
      pqxx::nontransaction tx(*conn_);
      auto r = tx.exec_params("SELECT application_name FROM pg_stat_activity WHERE pid = $1", pid);
      names.push_back(r.empty() ? "(gone)" : r[0][0].as<std::string>());
    }
    return names;
  }

 private:
  struct Receiver : pqxx::notification_receiver {
    Receiver(pqxx::connection_base& c, std::vector<int>& pids)
        : pqxx::notification_receiver(c, fgac::kOutboxChannel), senders(pids) {}
    void operator()(const std::string&, int backend_pid) override { senders.push_back(backend_pid); }
    std::vector<int>& senders;
  };
  std::unique_ptr<pqxx::connection> conn_;
  std::vector<int> senders_;
  Receiver receiver_;
};

}  // namespace

TEST_CASE("outbox: creates and deletes wake the workers after their commit, from the notifier's session only") {
  ApiFixture api;
  api.agent("agent-wake");
  WakeupListener listener(api.database_url());
  const std::vector<std::string> notifier_only{"fgac-tests-notify"};

  // The creating transactions send nothing themselves (their commits would
  // serialize on Postgres's notify lock); the notifier sends one or more.
  for (int i = 0; i < 5; ++i) {
    REQUIRE(api.post("/tasks", {{"agent_name", "agent-wake"}, {"name", "wake-" + std::to_string(i)}}).status == 201);
  }
  auto senders = listener.senders_within(500ms);
  CHECK(!senders.empty());
  CHECK(senders.size() <= 5);
  for (const auto& name : senders) CHECK(name == notifier_only[0]);

  // A delete whose register was sent flips the desire: the workers are woken again.
  api.exec(
      "UPDATE authz_outbox SET sent = true WHERE resource_id = (SELECT id::text FROM tasks WHERE name = 'wake-0')");
  REQUIRE(api.call("DELETE", "/tasks/name/wake-0").status == 200);
  CHECK(listener.senders_within(500ms) == notifier_only);

  // A delete that drops a never-sent register leaves nothing to deliver: no wake-up.
  REQUIRE(api.call("DELETE", "/tasks/name/wake-1").status == 200);
  CHECK(listener.senders_within(300ms).empty());

  // Writers other than the API (taskctl, plain SQL) still get the trigger's NOTIFY, sent by their own session.
  auto writer = fgac::pg_connect(settings_for(api.database_url()));
  pqxx::nontransaction(*writer).exec0(
      "UPDATE authz_outbox SET generation = generation + 1 "
      "WHERE resource_id = (SELECT id::text FROM tasks WHERE name = 'wake-2')");
  CHECK(listener.senders_within(300ms) == std::vector<std::string>{"fgac-tests"});
}
