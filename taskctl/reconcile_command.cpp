// taskctl reconcile: ask the authz service whether each task's creator can
// read it, and re-enqueue a register for those it cannot.
#include <boost/asio/use_future.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/env.hpp"
#include "common/http_client.hpp"
#include "taskctl/commands.hpp"
#include "taskctl/progress.hpp"

namespace fgac::taskctl {
namespace {

namespace asio = boost::asio;

constexpr auto kCheckTimeout = std::chrono::seconds(10);

constexpr const char* kCountSynced = R"sql(
SELECT count(*) FROM tasks t
 WHERE t.authz_synced_at IS NOT NULL
   AND (t.creator_user_id IS NOT NULL OR t.creator_service_account_id IS NOT NULL)
   AND NOT EXISTS (SELECT 1 FROM authz_outbox o WHERE o.resource_type = 'task' AND o.resource_id = t.id::text))sql";

constexpr const char* kSyncedBatch = R"sql(
SELECT t.id::text, t.creator_user_id, t.creator_service_account_id
  FROM tasks t
 WHERE t.authz_synced_at IS NOT NULL
   AND (t.creator_user_id IS NOT NULL OR t.creator_service_account_id IS NOT NULL)
   AND t.id > $1::uuid
   AND NOT EXISTS (SELECT 1 FROM authz_outbox o WHERE o.resource_type = 'task' AND o.resource_id = t.id::text)
 ORDER BY t.id LIMIT $2)sql";

constexpr const char* kReenqueue = R"sql(
INSERT INTO authz_outbox (resource_type, resource_id, parent_type, parent_id, principal, desired, generation, enqueued_at)
SELECT 'task', t.id::text, CASE WHEN ta.agent_id IS NULL THEN NULL ELSE 'agent' END, ta.agent_id::text, $2::jsonb,
       'present', 1, now()
  FROM tasks t
  LEFT JOIN LATERAL (SELECT agent_id FROM task_agents WHERE task_id = t.id ORDER BY created_at LIMIT 1) ta ON true
 WHERE t.id = $1::uuid
ON CONFLICT DO NOTHING)sql";

// The shared HTTP client (keep-alive, TLS, one deadline per call), driven
// one call at a time: a CLI needs no more.
class CheckClient {
 public:
  CheckClient(const std::string& url, const std::optional<std::string>& token, std::optional<std::string> ca_file)
      : client_(HttpClientSettings{.base_url = url,
                                   .connect_timeout = kCheckTimeout,
                                   .request_timeout = kCheckTimeout,
                                   .max_idle_connections = 1,
                                   .ca_file = std::move(ca_file)}) {
    if (token) headers_.emplace_back("Authorization", "Bearer " + *token);
  }

  // 200 allowed, 403 denied; any other answer is returned as is.
  unsigned check(const nlohmann::json& principal, const std::string& task_id) {
    nlohmann::json body{
        {"principal", principal}, {"resource", {{"type", "task"}, {"selector", task_id}}}, {"operation", "read"}};
    auto answer = asio::co_spawn(ioc_, client_.post_json("/v1/authz/check", body.dump(), headers_), asio::use_future);
    ioc_.restart();
    ioc_.run();
    return answer.get().status;
  }

 private:
  asio::io_context ioc_;
  HttpClient client_;
  HeaderList headers_;
};

}  // namespace

int run_reconcile(Args& args) {
  const bool dry_run = args.flag("--dry-run");
  const long long batch = std::stoll(args.option("--batch").value_or("500"));
  if (batch < 1) throw UsageError("--batch must be at least 1");
  auto db = database_settings(args);
  args.expect_no_more();
  ProcessEnv env;
  EnvReader reader(env);
  auto url = reader.optional_str("AGENTEX_AUTH_URL");
  if (!url) throw UsageError("AGENTEX_AUTH_URL is not set");
  CheckClient client(*url, reader.optional_str("AUTHZ_SERVICE_TOKEN"), reader.optional_str("AGENTEX_AUTH_CA_FILE"));

  auto conn = pg_connect(db);
  long long total = 0;
  {
    pqxx::nontransaction tx(*conn);
    total = tx.exec1(kCountSynced)[0].as<long long>();
  }
  Progress progress("reconcile", total);
  long long checked = 0;
  long long missing = 0;
  long long errors = 0;
  std::string after = "00000000-0000-0000-0000-000000000000";
  for (;;) {
    pqxx::result rows;
    {
      pqxx::nontransaction tx(*conn);
      rows = tx.exec_params(kSyncedBatch, after, batch);
    }
    for (const auto& r : rows) {
      const auto id = r[0].as<std::string>();
      nlohmann::json principal =
          r[1].is_null()
              ? nlohmann::json{{"principal_type", "service_account"}, {"service_account_id", r[2].as<std::string>()}}
              : nlohmann::json{{"principal_type", "user"}, {"user_id", r[1].as<std::string>()}};
      const unsigned status = client.check(principal, id);
      ++checked;
      if (status == 403) {
        ++missing;
        if (dry_run) {
          std::cout << "would re-enqueue task " << id << "\n";
        } else {
          pqxx::work tx(*conn);
          tx.exec_params(kReenqueue, id, principal.dump());
          tx.commit();
        }
      } else if (status != 200) {
        ++errors;
        std::cerr << "check for task " << id << " answered " << status << "\n";
      }
      progress.update(checked);
    }
    if (static_cast<long long>(rows.size()) < batch) break;
    after = rows[rows.size() - 1][0].as<std::string>();
  }
  progress.finish();
  std::cout << "reconcile: checked " << checked << " task(s); " << missing << " missing their creator's grant"
            << (dry_run ? " (dry run: nothing enqueued)" : ", re-enqueued") << "; " << errors << " error(s)\n";
  return errors == 0 ? kExitOk : kExitFailure;
}

}  // namespace fgac::taskctl
