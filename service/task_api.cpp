#include "service/task_api.hpp"

#include "common/log.hpp"
#include "common/monitor.hpp"
#include "common/outbox_channel.hpp"
#include "common/uuid.hpp"
#include "schema/migrator.hpp"
#include "service/error_mapping.hpp"
#include "service/openapi.hpp"

namespace fgac::api {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kJsonContentType = "application/json";

void require_json_body(const HttpRequest& req) {
  auto type = req[http::field::content_type];
  auto semicolon = type.find(';');
  auto media = type.substr(0, semicolon);
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  std::string lower(media);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != kJsonContentType) throw ApiError(ErrorKind::unsupported_media, "Content-Type must be application/json");
}

// Every miss of a resource the path names: one body, whatever the cause.
[[noreturn]] void throw_not_found(std::string_view what) {
  throw ApiError(ErrorKind::not_found, std::string(what) + " not found");
}

// A path id that is not a UUID names no row: the same 404 as a missing one.
// Upstream's ids are free text, so its server answers a miss (and the client
// must not be told 422, a status it treats as a bug in its own request).
std::string path_id(std::string_view text, std::string_view what) {
  if (!is_uuid(text)) throw_not_found(what);
  return require_uuid(text, what);  // lower-cased
}

std::string found_or_404(std::optional<std::string> json, const char* what) {
  if (!json) throw_not_found(what);
  return std::move(*json);
}

// The agent or task a path names: by id (a UUID, or the 404 of a miss) or by name.
AgentRef agent_in_path(const RouteMatch& match, bool by_id) {
  if (by_id) return {.id = path_id(match.params[0], "agent")};
  return {.name = match.params[0]};
}
TaskRef task_in_path(const RouteMatch& match, bool by_id) {
  if (by_id) return {.id = path_id(match.params[0], "task")};
  return {.name = match.params[0]};
}

// The operation the route table declares for a route that names a task.
Operation route_operation(const RouteMatch& match) {
  switch (match.policy) {
    case Policy::read:
      return Operation::read;
    case Policy::update:
      return Operation::update;
    case Policy::cancel:
      return Operation::cancel;
    case Policy::delete_:
      return Operation::delete_;
    case Policy::unset:
    case Policy::public_:
    case Policy::authenticated:
    case Policy::rpc_method:
      break;
  }
  throw std::logic_error("route " + std::string(match.pattern) + " names no task operation");
}

// A JSON-RPC error answered inside a 200, as upstream does once dispatch began.
struct RpcFailure {
  int code;
  std::string message;
};
constexpr int kRpcInvalidParams = -32602;
constexpr int kRpcInternalError = -32603;
constexpr int kRpcMethodNotFound = -32601;

std::string rpc_envelope(const nlohmann::json& id, const std::string& result,
                         const std::optional<RpcFailure>& failure) {
  std::string body = R"({"jsonrpc":"2.0","id":)" + id.dump() + R"(,"result":)";
  if (failure) {
    body += R"(null,"error":)";
    body += nlohmann::json{{"code", failure->code}, {"message", failure->message}, {"data", nullptr}}.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    body += result + R"(,"error":null)";
  }
  return body + "}";
}

// Upstream's ACP_TYPE_TO_ALLOWED_RPC_METHODS.
bool method_allowed(std::string_view acp_type, std::string_view method) {
  if (acp_type == "sync") return method == "message/send" || method == "task/create" || method == "task/interrupt";
  return method == "task/create" || method == "task/cancel" || method == "task/interrupt" || method == "event/send";
}

}  // namespace

TaskApi::TaskApi(asio::io_context& ioc, ApiConfig config)
    : ioc_(ioc),
      config_(std::move(config)),
      metrics_(*registry_),
      authz_metrics_(*registry_),
      repository_(config_.dual_write) {
  if (config_.dual_write) notifier_ = std::make_unique<OutboxNotifier>(config_.database);
  const bool session_settings = config_.database.statements == StatementMode::prepared;
  pool_ = std::make_unique<PgPool>(
      config_.database, [dual_write = config_.dual_write, session_settings](pqxx::connection& conn) {
        prepare_task_statements(conn);
        // Behind a transaction pooler (DATABASE_STATEMENTS=unnamed) the role
        // carries this setting instead: a session SET would not stay with us.
        if (dual_write && session_settings) {
          pqxx::nontransaction session(conn);
          session.exec0(kDeferOutboxNotify);  // the OutboxNotifier wakes the workers after each commit
        }
      });
  if (config_.authn) authn_ = std::make_unique<AuthnClient>(*config_.authn);
  if (config_.enforce != EnforceMode::off) {
    if (!config_.authn) throw std::invalid_argument("FGAC_TASKS_ENFORCE needs authentication");
    if (!config_.dual_write) {
      log::warn(
          "FGAC_TASKS_ENFORCE is on while FGAC_TASKS_DUAL_WRITE is off: new tasks are never registered, "
          "so only their creators can reach them");
    }
    checker_ = std::make_unique<AuthzChecker>(HttpClientSettings{.base_url = config_.authn->url,
                                                                 .request_timeout = config_.checker.timeout,
                                                                 .ca_file = config_.authn->ca_file},
                                              config_.checker, authz_metrics_);
  }
  server_ = std::make_shared<HttpServer>(ioc_, config_.http, [this](HttpRequest& req) { return handle(req); });
  monitor_ = std::make_shared<HttpServer>(
      ioc_, config_.monitor, monitor_handler(registry_, [this]() -> asio::awaitable<Readiness> {
        const bool ok = co_await ready();
        co_return Readiness{ok, ok ? "" : "database unreachable or schema not current"};
      }));
}

TaskApi::~TaskApi() {
  pool_->stop();
  if (notifier_) notifier_->stop();
}

void TaskApi::start() {
  if (notifier_) notifier_->start();
  server_->start();
  monitor_->start();
  log::info("task-api started", {{"port", server_->port()},
                                 {"monitor_port", monitor_->port()},
                                 {"dual_write", config_.dual_write},
                                 {"enforce", mode_name(config_.enforce)},
                                 {"auth", config_.authn ? "agentex-auth" : "disabled"}});
}

// --- per-task authorization ---------------------------------------------------

asio::awaitable<bool> TaskApi::decide(const std::optional<Principal>& principal, Operation op, const TaskFacts& task) {
  const auto mode = mode_name(config_.enforce);
  const auto local = decide_locally(principal, task);
  bool allowed = false;
  if (local.allowed) {
    allowed = *local.allowed;
  } else {
    allowed = co_await checker_->check(principal, op, task);
    if (!allowed && is_creator(principal, task)) {
      // The graph has drifted from the database: the rollout gate.
      authz_metrics_.creator_denied(mode);
      log::warn("authz: SpiceDB denied a task's own creator",
                {{"task_id", task.id}, {"operation", operation_name(op)}, {"mode", mode}});
    }
  }
  authz_metrics_.decision(operation_name(op), mode, allowed, source_name(local.source));
  co_return allowed;
}

asio::awaitable<void> TaskApi::authorize(const Call& call, Operation op, TaskRef& ref) {
  if (config_.enforce == EnforceMode::off) co_return;
  if (config_.enforce == EnforceMode::shadow) {
    if (shadow_in_flight_ >= config_.shadow_max_in_flight) {
      authz_metrics_.shadow_dropped();
      co_return;
    }
    ++shadow_in_flight_;
    authz_metrics_.shadow_in_flight(shadow_in_flight_);
    asio::co_spawn(ioc_, shadow_decide(call.principal, op, ref), asio::detached);
    co_return;
  }
  const Access verdict = co_await access(call, op, ref);
  if (verdict == Access::forbidden)
    throw ApiError(ErrorKind::forbidden, "not allowed to " + std::string(operation_name(op)) + " this task");
  if (verdict != Access::allowed) throw_not_found("task");
}

asio::awaitable<TaskApi::Access> TaskApi::access(const Call& call, Operation op, TaskRef& ref) {
  const TaskRef lookup = ref;
  auto facts =
      co_await db<std::optional<TaskFacts>>([&](pqxx::connection& c) { return repository_.task_facts(c, lookup); });
  if (!facts) co_return Access::missing;
  // Named locals, not co_await inside conditions (GCC 12's coroutine bugs).
  const bool allowed = co_await decide(call.principal, op, *facts);
  if (allowed) {
    ref = TaskRef{.id = facts->id};
    co_return Access::allowed;
  }
  // May the caller see it? Then the refusal is a 403; otherwise it looks missing.
  bool readable = false;
  if (op != Operation::read) readable = co_await decide(call.principal, Operation::read, *facts);
  co_return readable ? Access::forbidden : Access::hidden;
}

asio::awaitable<void> TaskApi::shadow_decide(std::optional<Principal> principal, Operation op, TaskRef ref) {
  try {
    auto facts =
        co_await db<std::optional<TaskFacts>>([&](pqxx::connection& c) { return repository_.task_facts(c, ref); });
    bool allowed = true;
    if (facts) allowed = co_await decide(principal, op, *facts);
    if (!allowed) log::info("authz shadow: would deny", {{"task_id", facts->id}, {"operation", operation_name(op)}});
  } catch (const std::exception& e) {
    log::info("authz shadow: no decision", {{"operation", operation_name(op)}, {"error", e.what()}});
  }
  --shadow_in_flight_;
  authz_metrics_.shadow_in_flight(shadow_in_flight_);
}

void TaskApi::stop_accepting() {
  server_->stop_accepting();
  monitor_->stop_accepting();
}

void TaskApi::shutdown(std::function<void()> done) {
  stop_accepting();
  asio::co_spawn(ioc_, drain_and_stop(std::move(done)), asio::detached);
}

asio::awaitable<void> TaskApi::drain_and_stop(std::function<void()> done) {
  const auto deadline = std::chrono::steady_clock::now() + config_.shutdown_grace;
  const auto unfinished = co_await server_->drain(deadline);
  (void)co_await monitor_->drain(std::chrono::steady_clock::now());
  // Every committed change already woke the workers or will on their next poll.
  if (notifier_) notifier_->stop();
  log::info("task-api stopped", {{"unfinished_connections", unfinished}});
  done();
}

std::uint16_t TaskApi::port() const {
  return server_->port();
}
std::uint16_t TaskApi::monitor_port() const {
  return monitor_->port();
}
std::size_t TaskApi::requests_in_flight() const {
  return server_->requests_in_flight();
}

asio::awaitable<bool> TaskApi::ready() {
  bool current = false;
  try {
    current = co_await db<bool>([](pqxx::connection& conn) {
      static const auto migrations = schema::parse_migrations(schema::embedded_migration_files());
      return schema::migrations_current(conn, migrations);
    });
  } catch (const std::exception& e) {
    log::warn("not ready: database unreachable", {{"error", e.what()}});
    co_return false;
  }
  if (!current) log::warn("not ready: schema migrations are not current");
  co_return current;
}

void TaskApi::outbox_changed() {
  if (notifier_) notifier_->notify();
}

TaskApi::Response TaskApi::handle(HttpRequest& req) {
  const auto started = std::chrono::steady_clock::now();
  RouteMatch match;
  HttpResponse res;
  std::exception_ptr error;
  try {
    match = match_route(req.method(), req.target());
    res = co_await dispatch(match, req);
  } catch (...) {
    error = std::current_exception();
  }
  if (error) res = error_response(error);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.observe_request(match.pattern, req.method_string(), res.result_int(), seconds);
  co_return res;
}

asio::awaitable<std::optional<Principal>> TaskApi::authenticate(const HttpRequest& req) {
  if (!authn_) co_return std::nullopt;  // AUTH_DISABLED=true: no principal, no creator
  co_return co_await authn_->authenticate(req);
}

TaskApi::Response TaskApi::dispatch(const RouteMatch& match, HttpRequest& req) {
  if (match.route == Route::none) {
    if (match.method_not_allowed) throw ApiError(ErrorKind::method_not_allowed, "method not allowed");
    throw ApiError(ErrorKind::not_found, "not found");
  }
  // The API's own description needs no caller (upstream serves it without authn too).
  if (match.route == Route::openapi) co_return json_response(http::status::ok, std::string(openapi_document()));
  const auto principal = co_await authenticate(req);
  const Call call{match, req, principal};
  switch (match.route) {
    case Route::create_agent:
      co_return co_await create_agent(call);
    case Route::register_agent:
      co_return co_await register_agent(call);
    case Route::list_agents:
      co_return co_await list_agents(call);
    case Route::get_agent:
    case Route::get_agent_by_name:
      co_return co_await get_agent(call);
    case Route::delete_agent:
    case Route::delete_agent_by_name:
      co_return co_await delete_agent(call);
    case Route::agent_rpc:
    case Route::agent_rpc_by_name:
      co_return co_await agent_rpc(call);
    case Route::create_task:
      co_return co_await create_task(call);
    case Route::list_tasks:
      co_return co_await list_tasks(call);
    case Route::get_task:
    case Route::get_task_by_name:
      co_return co_await get_task(call);
    case Route::update_task:
    case Route::update_task_by_name:
      co_return co_await update_task(call);
    case Route::transition_task:
      co_return co_await transition_task(call);
    case Route::delete_task:
    case Route::delete_task_by_name:
      co_return co_await delete_task(call);
    case Route::openapi:
    case Route::none:
      break;
  }
  throw ApiError(ErrorKind::not_found, "not found");
}

TaskApi::Response TaskApi::create_agent(const Call& call) {
  require_json_body(call.req);
  auto body = parse_create_agent(call.req.body(), config_.max_json_depth);
  auto id = new_uuid_v4();
  auto json = co_await db<std::string>([&](pqxx::connection& c) { return repository_.create_agent(c, id, body); });
  co_return json_response(http::status::created, std::move(json));
}

TaskApi::Response TaskApi::register_agent(const Call& call) {
  require_json_body(call.req);
  auto body = parse_register_agent(call.req.body(), config_.max_json_depth);
  auto id = new_uuid_v4();
  auto json = co_await db<std::optional<std::string>>(
      [&](pqxx::connection& c) { return repository_.register_agent(c, id, body); });
  auto agent = found_or_404(std::move(json), "agent");
  // Upstream answers the agent's internal API key; we keep none (no credentials in the database).
  agent.pop_back();
  agent += R"(,"agent_api_key":null})";
  co_return json_response(http::status::ok, std::move(agent));
}

TaskApi::Response TaskApi::list_agents(const Call& call) {
  auto filter = parse_agent_filter(parse_query(call.match.query));
  auto json = co_await db<std::string>([&](pqxx::connection& c) { return repository_.list_agents(c, filter); });
  co_return json_response(http::status::ok, std::move(json));
}

TaskApi::Response TaskApi::get_agent(const Call& call) {
  const auto ref = agent_in_path(call.match, call.match.route == Route::get_agent);
  auto json = co_await db<std::optional<std::string>>([&](pqxx::connection& c) { return repository_.agent(c, ref); });
  co_return json_response(http::status::ok, found_or_404(std::move(json), "agent"));
}

TaskApi::Response TaskApi::delete_agent(const Call& call) {
  const auto ref = agent_in_path(call.match, call.match.route == Route::delete_agent);
  auto id =
      co_await db<std::optional<std::string>>([&](pqxx::connection& c) { return repository_.delete_agent(c, ref); });
  if (!id) throw_not_found("agent");
  // Upstream quotes the path's value, id or name; its tasks stay (a soft delete).
  nlohmann::json body{{"id", *id}, {"message", "Agent '" + call.match.params[0] + "' deleted successfully"}};
  co_return json_response(http::status::ok, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

TaskApi::Response TaskApi::create_task(const Call& call) {
  require_json_body(call.req);
  const auto request = parse_create_task(call.req.body(), config_.max_json_depth);
  co_return co_await create_task_in(request, call.principal);
}

TaskApi::Response TaskApi::list_tasks(const Call& call) {
  auto filter = parse_task_filter(parse_query(call.match.query));
  if (config_.enforce == EnforceMode::enforce) {
    // The graph's owner is the creator: exact, paged in SQL, pending tasks included.
    const auto me = creator_of(call.principal);
    filter.visible_to = TaskFilter::Visibility{me.user_id, me.service_account_id, std::nullopt};
    if (config_.list_mode == ListMode::lookup && (me.user_id || me.service_account_id)) {
      auto found = co_await checker_->search(call.principal, config_.list_lookup_limit);
      // A page cut from a truncated set would silently miss tasks: refuse instead.
      if (found.truncated) {
        throw ApiError(ErrorKind::unavailable,
                       "more tasks are visible than one lookup answers (API_LIST_LOOKUP_LIMIT)");
      }
      filter.visible_to->granted_ids = std::move(found.ids);
    }
  }
  auto json = co_await db<std::string>([&](pqxx::connection& c) { return repository_.list_tasks(c, filter); });
  co_return json_response(http::status::ok, std::move(json));
}

TaskApi::Response TaskApi::get_task(const Call& call) {
  auto ref = task_in_path(call.match, call.match.route == Route::get_task);
  const bool with_agents = parse_relationships(parse_query(call.match.query));
  co_await authorize(call, route_operation(call.match), ref);
  auto json = co_await db<std::optional<std::string>>(
      [&](pqxx::connection& c) { return repository_.task_response(c, ref, with_agents); });
  co_return json_response(http::status::ok, found_or_404(std::move(json), "task"));
}

TaskApi::Response TaskApi::update_task(const Call& call) {
  auto ref = task_in_path(call.match, call.match.route == Route::update_task);
  require_json_body(call.req);
  const auto request = parse_update_task(call.req.body(), config_.max_json_depth);
  co_await authorize(call, route_operation(call.match), ref);
  auto json = co_await db<std::optional<std::string>>(
      [&](pqxx::connection& c) { return repository_.update_task(c, ref, request); });
  co_return json_response(http::status::ok, found_or_404(std::move(json), "task"));
}

TaskApi::Response TaskApi::transition_task(const Call& call) {
  const auto pattern = call.match.pattern;
  const auto transition = transition_for(pattern.substr(pattern.rfind('/') + 1));
  if (!transition) throw ApiError(ErrorKind::not_found, "not found");  // a route table without its transition
  auto ref = task_in_path(call.match, true);
  // The body is optional ({"reason": ...}); when there is one it is JSON.
  if (!call.req.body().empty()) require_json_body(call.req);
  const auto reason = parse_transition_reason(call.req.body(), *transition, config_.max_json_depth);
  co_await authorize(call, route_operation(call.match), ref);
  auto result = co_await db<TransitionResult>(
      [&](pqxx::connection& c) { return repository_.transition_task(c, ref, *transition, reason); });
  using Outcome = TransitionResult::Outcome;
  switch (result.outcome) {
    case Outcome::done:
      co_return json_response(http::status::ok, std::move(result.task));
    case Outcome::not_found:
      throw_not_found("task");
    case Outcome::raced:
      throw ApiError(ErrorKind::malformed,
                     "Task " + *ref.id + " status was concurrently modified. Please retry the request.");
    case Outcome::not_allowed:
      break;
  }
  // Upstream's wording, the status as Python prints its enum member.
  if (!transition->from_interrupted) {
    throw ApiError(ErrorKind::malformed, "Task " + *ref.id + " is not running (current status: TaskStatus." +
                                             result.current_status + "). Only running tasks can be interrupted.");
  }
  throw ApiError(ErrorKind::malformed, "Task " + *ref.id + " cannot be transitioned (current status: TaskStatus." +
                                           result.current_status +
                                           "). Only running or interrupted tasks can have their status updated.");
}

TaskApi::Response TaskApi::create_task_in(const CreateTaskRequest& request, const std::optional<Principal>& principal) {
  NewTask task{new_uuid_v4(), request, creator_of(principal), outbox_principal(principal).dump()};
  auto json =
      co_await db<std::optional<std::string>>([&](pqxx::connection& c) { return repository_.create_task(c, task); });
  // The agent is named in the body, not the path: an unknown one is an invalid field.
  if (!json) throw ApiError(ErrorKind::invalid, "agent not found");
  outbox_changed();
  metrics_.task_created(task.creator.kind());
  co_return json_response(http::status::created, std::move(*json));
}

TaskApi::Response TaskApi::agent_rpc(const Call& call) {
  const bool by_id = call.match.route == Route::agent_rpc;
  // Upstream's ids are free text: an unknown (or non-UUID) id is a JSON-RPC error, an unknown name a 404.
  const AgentRef ref = by_id ? AgentRef{.id = call.match.params[0]} : AgentRef{.name = call.match.params[0]};
  require_json_body(call.req);
  const auto rpc = parse_rpc(call.req.body(), config_.max_json_depth);
  auto agent = co_await db<std::optional<RpcAgent>>([&](pqxx::connection& c) { return repository_.rpc_agent(c, ref); });
  if (!agent && !by_id) throw_not_found("agent");
  std::optional<RpcFailure> failure;
  std::string result;
  if (!agent) {
    failure = RpcFailure{kRpcInternalError, "Item with id '" + call.match.params[0] + "' does not exist."};
  } else if (agent->deleted) {
    failure = RpcFailure{kRpcInternalError, "Agent " + agent->id + " is deleted"};
  } else if (!method_allowed(agent->acp_type, rpc.method)) {
    failure = RpcFailure{kRpcInternalError, "Unsupported method: " + rpc.method + " for ACP type: " + agent->acp_type};
  } else if (rpc.method == "task/create" || rpc.method == "task/cancel") {
    try {
      if (rpc.method == "task/create") {
        result = co_await rpc_task_create(rpc, *agent, call);
      } else {
        result = co_await rpc_task_cancel(rpc, call);
      }
    } catch (const RpcFailure& e) {
      failure = e;
    }
  } else {
    // task/interrupt, message/send, event/send reach the agent's ACP server upstream.
    failure = RpcFailure{kRpcMethodNotFound, "Method " + rpc.method +
                                                 " is forwarded to the agent's ACP server "
                                                 "upstream; fgac-tasks does not forward to agents"};
  }
  co_return json_response(http::status::ok, rpc_envelope(rpc.id, result, failure));
}

boost::asio::awaitable<std::string> TaskApi::rpc_task_create(const RpcRequest& rpc, const RpcAgent& agent,
                                                             const Call& call) {
  NewTask task{new_uuid_v4(), parse_rpc_task_create(rpc.params, AgentRef{.id = agent.id}), creator_of(call.principal),
               outbox_principal(call.principal).dump()};
  if (task.request.name && config_.enforce == EnforceMode::shadow) {
    TaskRef existing{.name = task.request.name};
    co_await authorize(call, Operation::read, existing);
  } else if (task.request.name && config_.enforce == EnforceMode::enforce) {
    // An existing task of that name is handed back only to a caller who may
    // read it; anyone else is told what a duplicate name is told.
    TaskRef existing{.name = task.request.name};
    const Access verdict = co_await access(call, Operation::read, existing);
    if (verdict == Access::hidden || verdict == Access::forbidden) {
      throw RpcFailure{kRpcInternalError, std::string(kDuplicateMessage)};
    }
  }
  auto created = co_await db<TaskRepository::GetOrCreate>(
      [&](pqxx::connection& c) { return repository_.get_or_create_task(c, task); });
  // The agent was there a moment ago: deleted meanwhile.
  if (!created.json) throw RpcFailure{kRpcInternalError, "Agent " + agent.id + " is deleted"};
  if (created.created) {
    outbox_changed();
    metrics_.task_created(task.creator.kind());
  }
  co_return std::move(*created.json);
}

boost::asio::awaitable<std::string> TaskApi::rpc_task_cancel(const RpcRequest& rpc, const Call& call) {
  const auto ref = parse_rpc_task_ref(rpc.params);
  if (!ref.id && !ref.name) {
    // Upstream's 500 here would be retried by the client; the request cannot succeed.
    throw RpcFailure{kRpcInvalidParams, "Invalid parameters: task_id or task_name is required"};
  }
  static constexpr Transition kCancelByUser{"cancel", "CANCELED", "Task canceled by user", true};
  auto task = ref;
  bool hidden = false;
  try {
    co_await authorize(call, Operation::cancel, task);
  } catch (const ApiError& e) {
    if (e.kind() != ErrorKind::not_found) throw;
    hidden = true;
  }
  // Denied and unreadable: answered exactly as a missing task is.
  if (hidden && ref.name) throw_not_found("task");
  if (hidden) throw RpcFailure{kRpcInternalError, "Item with id '" + *ref.id + "' does not exist."};
  auto result = co_await db<TransitionResult>([&](pqxx::connection& c) {
    return repository_.transition_task(c, task, kCancelByUser, std::string(kCancelByUser.reason));
  });
  if (result.outcome == TransitionResult::Outcome::done) co_return std::move(result.task);
  // A task that is no longer running comes back unchanged, without an error (upstream).
  auto json = co_await db<std::optional<std::string>>([&](pqxx::connection& c) { return repository_.task(c, ref); });
  if (json) co_return std::move(*json);
  if (ref.name) throw_not_found("task");  // upstream: an unknown name is a 404 before dispatch
  throw RpcFailure{kRpcInternalError, "Item with id '" + *ref.id + "' does not exist."};
}

TaskApi::Response TaskApi::delete_task(const Call& call) {
  const bool by_id = call.match.route == Route::delete_task;
  auto ref = task_in_path(call.match, by_id);
  // By name: the decision resolves the id, and the delete is by that id.
  co_await authorize(call, route_operation(call.match), ref);
  const std::string outbox = outbox_principal(call.principal).dump();
  auto result = co_await db<DeleteResult>([&](pqxx::connection& c) { return repository_.delete_task(c, ref, outbox); });
  // The same 404 whether dual-write is on or off.
  if (!result.id) throw_not_found("task");
  if (result.outbox == OutboxOnDelete::desire_flipped || result.outbox == OutboxOnDelete::deregister_enqueued) {
    outbox_changed();
  }
  // Upstream's two wordings: the id bare, the name quoted.
  const auto message = by_id ? "Task " + *result.id + " deleted successfully"
                             : "Task '" + call.match.params[0] + "' deleted successfully";
  nlohmann::json body{{"id", *result.id}, {"message", message}};
  co_return json_response(http::status::ok, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace fgac::api
