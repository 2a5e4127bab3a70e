// taskctl reconcile: ask the authz service whether each task's creator can
// read it, and re-enqueue a register for those it cannot.
#include <boost/asio/use_future.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/env.hpp"
#include "common/http_client.hpp"
#include "outbox/outbox.hpp"
#include "outbox/principal.hpp"
#include "taskctl/commands.hpp"
#include "taskctl/progress.hpp"

namespace fgac::taskctl {
namespace {

namespace asio = boost::asio;

constexpr auto kCheckTimeout = std::chrono::seconds(10);
constexpr long long kDefaultBatch = 500;

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

struct Tally {
  long long checked = 0;
  long long missing = 0;
  long long errors = 0;
};

// Checks one page of synced tasks; re-enqueues (unless a dry run) the
// register of each whose creator cannot read it. Returns the page.
std::vector<outbox::TaskCreator> reconcile_page(pqxx::connection& conn, CheckClient& client, const std::string& after,
                                                long long limit, bool dry_run, Tally& tally) {
  std::vector<outbox::TaskCreator> tasks;
  {
    pqxx::nontransaction tx(conn);
    tasks = outbox::tasks_without_row(tx, true, after, limit);
  }
  for (const auto& t : tasks) {
    const auto principal =
        outbox::credential_free_principal(outbox::creator_principal(t.user_id, t.service_account_id));
    const unsigned status = client.check(principal, t.task_id);
    ++tally.checked;
    if (status == 403) {
      ++tally.missing;
      if (dry_run) {
        std::cout << "would re-enqueue task " << t.task_id << "\n";
      } else {
        pqxx::work tx(conn);
        outbox::enqueue_registers(tx, {{t.task_id, principal.dump()}});
        tx.commit();
      }
    } else if (status != 200) {
      ++tally.errors;
      std::cerr << "check for task " << t.task_id << " answered " << status << "\n";
    }
  }
  return tasks;
}

}  // namespace

int run_reconcile(Args& args) {
  const auto [dry_run, batch, db] = batch_options(args, kDefaultBatch);
  ProcessEnv env;
  EnvReader reader(env);
  auto url = reader.optional_str("AGENTEX_AUTH_URL");
  if (!url) throw UsageError("AGENTEX_AUTH_URL is not set");
  CheckClient client(*url, reader.optional_str("AUTHZ_SERVICE_TOKEN"), reader.optional_str("AGENTEX_AUTH_CA_FILE"));

  auto conn = outbox_connection(db);
  long long total = 0;
  {
    pqxx::nontransaction tx(*conn);
    total = outbox::count_tasks_without_row(tx, true);
  }
  Progress progress("reconcile", total);
  Tally tally;
  std::string after = outbox::kFirstTaskId;
  for (;;) {
    const auto page = reconcile_page(*conn, client, after, batch, dry_run, tally);
    progress.update(tally.checked);
    if (static_cast<long long>(page.size()) < batch) break;
    after = page.back().task_id;
  }
  progress.finish();
  std::cout << "reconcile: checked " << tally.checked << " task(s); " << tally.missing
            << " missing their creator's grant" << (dry_run ? " (dry run: nothing enqueued)" : ", re-enqueued") << "; "
            << tally.errors << " error(s)\n";
  return tally.errors == 0 ? kExitOk : kExitFailure;
}

}  // namespace fgac::taskctl
