// The task API: HTTP adapter over the task repository, with authentication
// and metrics. Owns its servers; main() and the tests only wire and run it.
#pragma once

#include <prometheus/registry.h>
#include <functional>
#include <memory>

#include "common/asio.hpp"
#include "common/pg_pool.hpp"
#include "service/api_metrics.hpp"
#include "service/authn_client.hpp"
#include "service/authz_checker.hpp"
#include "service/config.hpp"
#include "service/outbox_notifier.hpp"
#include "service/routes.hpp"
#include "service/task_repository.hpp"

namespace fgac::api {

class TaskApi {
 public:
  TaskApi(boost::asio::io_context& ioc, ApiConfig config);
  ~TaskApi();

  using Config = ApiConfig;

  void start();           // binds both ports; throws when it cannot
  void stop_accepting();  // no new connections; in-flight requests finish
  // SIGTERM: stop accepting, let in-flight requests finish within the grace
  // period, stop the notifier, then call `done` (on the I/O context).
  void shutdown(std::function<void()> done);
  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] std::uint16_t monitor_port() const;
  [[nodiscard]] std::size_t requests_in_flight() const;
  [[nodiscard]] PgPool& pool() { return *pool_; }

 private:
  // What a route's handler gets: the match, the request, the caller.
  struct Call {
    const RouteMatch& match;
    HttpRequest& req;
    const std::optional<Principal>& principal;
  };
  using Response = boost::asio::awaitable<HttpResponse>;

  Response handle(HttpRequest& req);
  Response dispatch(const RouteMatch& match, HttpRequest& req);
  boost::asio::awaitable<std::optional<Principal>> authenticate(const HttpRequest& req);

  // One handler per route (routes.hpp); dispatch() only picks.
  using Handler = Response(const Call& call);
  Handler create_agent, register_agent, list_agents, get_agent, delete_agent, agent_rpc;
  Handler create_task, list_tasks, get_task, update_task, transition_task, delete_task;

  Response create_task_in(const CreateTaskRequest& request, const std::optional<Principal>& principal);
  // The JSON-RPC methods (docs/agentex-contract.md 4): the result's JSON, or
  // RpcFailure for an error answered inside a 200.
  boost::asio::awaitable<std::string> rpc_task_create(const RpcRequest& rpc, const RpcAgent& agent, const Call& call);
  boost::asio::awaitable<std::string> rpc_task_cancel(const RpcRequest& rpc, const Call& call);
  // FGAC_TASKS_ENFORCE for one operation on the task `ref` names. enforce: a
  // denial throws (404 as for a missing task, 403 when the caller may read it,
  // 503 when the authz service cannot say) and `ref` becomes the task's id, so
  // the action hits exactly the task decided on. shadow: the decision is
  // computed off the request's path and nothing is denied. off: nothing.
  boost::asio::awaitable<void> authorize(const Call& call, Operation op, TaskRef& ref);
  // What enforcement says of `op` on the task `ref` names (resolved to its id
  // when it exists): the one decision authorize() and RPC task/create share.
  enum class Access { allowed, forbidden, hidden, missing };
  boost::asio::awaitable<Access> access(const Call& call, Operation op, TaskRef& ref);
  // Allowed? Counts the decision; throws ApiError(unavailable) when the check cannot be answered.
  boost::asio::awaitable<bool> decide(const std::optional<Principal>& principal, Operation op, const TaskFacts& task);
  boost::asio::awaitable<void> shadow_decide(std::optional<Principal> principal, Operation op, TaskRef ref);
  boost::asio::awaitable<bool> ready();
  boost::asio::awaitable<void> drain_and_stop(std::function<void()> done);
  // After a commit that made an outbox row due: wake the workers.
  void outbox_changed();

  template <class R, class Fn>
  boost::asio::awaitable<R> db(Fn fn) {
    return on_database<R>(*pool_, std::move(fn));
  }

  boost::asio::io_context& ioc_;
  ApiConfig config_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  ApiMetrics metrics_;
  AuthzMetrics authz_metrics_;
  std::unique_ptr<AuthzChecker> checker_;     // shadow and enforce only
  std::size_t shadow_in_flight_ = 0;          // the I/O thread's
  std::unique_ptr<OutboxNotifier> notifier_;  // dual-write only
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<AuthnClient> authn_;
  TaskRepository repository_;
  std::shared_ptr<HttpServer> server_;
  std::shared_ptr<HttpServer> monitor_;
};

}  // namespace fgac::api
