#include "tests/worker/harness.hpp"

#include <doctest/doctest.h>

#include <sstream>

#include "common/uuid.hpp"
#include "outbox/principal.hpp"
#include "service/task_repository.hpp"
#include "tests/support/api_fixture.hpp"

namespace fgac::testing {
namespace {

// A connection prepared as the task API prepares its pool's.
std::unique_ptr<pqxx::connection> api_connection(const std::string& url) {
  auto conn = fgac::pg_connect(settings_for(url));
  fgac::api::prepare_task_statements(*conn);
  return conn;
}

}  // namespace

nlohmann::json alice_principal() {
  return {{"principal_type", "user"}, {"user_id", "user-alice"}, {"account_id", "acct-dev"}};
}

WorkerProcess::WorkerProcess(const std::string& database_url, const std::string& authz_url,
                             const std::string& worker_id, const std::vector<std::string>& extra_env)
    : port_(free_port()) {
  std::vector<std::string> env{
      "DATABASE_URL=" + database_url, "AGENTEX_AUTH_URL=" + authz_url, "MONITOR_ADDR=127.0.0.1",
      "WORKER_MONITOR_PORT=" + std::to_string(port_), "WORKER_ID=" + worker_id,
      // Short lease, backoff and breaker pause: crash recovery and post-fault drains within seconds.
      "WORKER_LEASE_MS=4000", "AUTHZ_REQUEST_TIMEOUT_MS=2000", "WORKER_BACKOFF_BASE_MS=50", "WORKER_BACKOFF_CAP_MS=500",
      "WORKER_BREAKER_PAUSE_CAP_MS=1000", "WORKER_POLL_INTERVAL_MS=250", "WORKER_GAUGE_REFRESH_MS=200",
      "LOG_LEVEL=warn"};
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  process_ =
      std::make_unique<ChildProcess>("outbox-worker", std::vector<std::string>{bin_dir() + "/outbox-worker"}, env);
  try {
    wait_for_http(port_, "/readyz", std::chrono::seconds(20));
  } catch (const std::exception& e) {
    const std::string message = std::string(e.what()) + "\n" + process_->log();
    FAIL(message);
  }
}

std::string WorkerProcess::metrics() {
  auto r = http_call(port_, "GET", "/metrics");
  REQUIRE(r.status == 200);
  return r.body;
}

double WorkerProcess::metric(const std::string& name, const std::vector<std::string>& labels) {
  const std::string text = metrics();
  double sum = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : ' ';
    if (next != '{' && next != ' ') continue;  // another metric sharing the prefix
    bool match = true;
    for (const auto& l : labels) match = match && line.find(l) != std::string::npos;
    if (match) sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

OutboxHarness::OutboxHarness() : url_(migrated_database()) {
  authz().reset();
}

AuthzServer& OutboxHarness::authz() {
  return shared_authz();
}

void OutboxHarness::exec(const std::string& sql) {
  auto conn = pg_connect(settings_for(url_));
  pqxx::work tx(*conn);
  tx.exec(sql);
  tx.commit();
}

long long OutboxHarness::scalar(const std::string& sql) {
  auto conn = pg_connect(settings_for(url_));
  pqxx::nontransaction tx(*conn);
  return tx.exec1(sql)[0].as<long long>();
}

std::optional<std::string> OutboxHarness::text(const std::string& sql) {
  auto conn = pg_connect(settings_for(url_));
  pqxx::nontransaction tx(*conn);
  auto r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null()) return std::nullopt;
  return r[0][0].as<std::string>();
}

std::string OutboxHarness::create_agent(const std::string& name) {
  return *text("INSERT INTO agents (name) VALUES ('" + name + "') RETURNING id::text");
}

std::string OutboxHarness::create_task(const std::string& agent_id, const Creator& creator, bool enqueue_register) {
  auto principal = fgac::outbox::creator_principal(creator.user_id, creator.service_account_id);
  if (principal.principal_type) principal.account_id = "acct-dev";
  fgac::api::NewTask task;
  task.id = fgac::new_uuid_v4();
  task.request.agent.id = agent_id;
  task.request.name = "task-" + std::to_string(++next_name_) + "-" + agent_id.substr(0, 8);
  task.creator.user_id = creator.user_id;
  task.creator.service_account_id = creator.service_account_id;
  task.outbox_principal = fgac::outbox::credential_free_principal(principal).dump();
  auto conn = api_connection(url_);
  auto json = fgac::api::TaskRepository(enqueue_register).create_task(*conn, task);
  REQUIRE(json.has_value());
  return task.id;
}

std::vector<std::string> OutboxHarness::create_tasks(const std::string& agent_id, int n) {
  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) ids.push_back(create_task(agent_id));
  return ids;
}

void OutboxHarness::delete_task(const std::string& task_id) {
  auto conn = api_connection(url_);
  const auto result = fgac::api::TaskRepository(true).delete_task(*conn, {.id = task_id}, alice_principal().dump());
  REQUIRE(result.id.has_value());
}

bool OutboxHarness::drained(std::chrono::milliseconds timeout) {
  return eventually([&] { return scalar("SELECT count(*) FROM authz_outbox WHERE dead_at IS NULL") == 0; }, timeout);
}

std::unique_ptr<WorkerProcess> OutboxHarness::start_worker(const std::string& worker_id,
                                                           const std::vector<std::string>& extra_env) {
  return std::make_unique<WorkerProcess>(url_, authz().url(), worker_id, extra_env);
}

void OutboxHarness::create_tasks_in_bulk(const std::string& agent_id, int n, bool enqueue_register) {
  const std::string tasks =
      "WITH t AS (INSERT INTO tasks (status, creator_user_id) SELECT 'RUNNING', 'user-alice' "
      "FROM generate_series(1, " +
      std::to_string(n) + ") RETURNING id), ";
  const std::string links =
      "ta AS (INSERT INTO task_agents (task_id, agent_id) SELECT id, '" + agent_id + "' FROM t RETURNING task_id) ";
  const std::string rows =
      enqueue_register
          ? "INSERT INTO authz_outbox (resource_type, resource_id, parent_type, parent_id, principal, desired) "
            "SELECT 'task', id::text, 'agent', '" +
                agent_id + "', '" + alice_principal().dump() + "', 'present' FROM t"
          : std::string("SELECT count(*) FROM ta");
  exec(tasks + links + rows);
}

void OutboxHarness::deliver_pending(const std::string& worker_id) {
  auto worker = start_worker(worker_id);
  REQUIRE(drained(std::chrono::seconds(30)));
}

void OutboxHarness::recover(const std::vector<std::string>& task_ids, const std::string& agent_id) {
  authz().clear_faults();
  REQUIRE(drained(std::chrono::seconds(10)));
  for (const auto& id : task_ids) expect_registered(id, agent_id);
}

ProcessResult OutboxHarness::taskctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{bin_dir() + "/taskctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {"DATABASE_URL=" + url_, "AGENTEX_AUTH_URL=" + authz().url()});
}

std::set<std::string> OutboxHarness::relations_of(const std::string& task_id) {
  std::set<std::string> out;
  auto body = authz().relationships(task_id);
  const auto& list = body.is_array() ? body : body.at("relationships");
  for (const auto& r : list) {
    out.insert(r.at("relation").get<std::string>() + " " + r.at("subject_type").get<std::string>() + ":" +
               r.at("subject_id").get<std::string>());
  }
  return out;
}

void OutboxHarness::expect_registered(const std::string& task_id, const std::string& agent_id, bool with_tenant) {
  CAPTURE(task_id);
  auto rels = relations_of(task_id);
  CHECK(rels.contains("owner user:user-alice"));
  CHECK(rels.contains("parent_agent agent:" + agent_id));
  CHECK(rels.contains("tenant account:acct-dev") == with_tenant);
  CHECK(authz().check(alice(), task_id, "read"));
  CHECK_FALSE(authz().check(bob(), task_id, "read"));
}

void OutboxHarness::expect_deregistered(const std::string& task_id) {
  CAPTURE(task_id);
  CHECK(relations_of(task_id).empty());
  CHECK_FALSE(authz().check(alice(), task_id, "read"));
}

std::vector<std::pair<std::string, int>> OutboxHarness::calls_of(const std::string& task_id) {
  std::vector<std::pair<std::string, int>> out;
  auto body = authz().calls(task_id);
  for (const auto& c : body.at("calls")) {
    out.emplace_back(c.at("op").get<std::string>(), c.at("status").get<int>());
  }
  return out;
}

}  // namespace fgac::testing
