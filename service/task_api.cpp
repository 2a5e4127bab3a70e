#include "service/task_api.hpp"

#include "common/log.hpp"
#include "common/monitor.hpp"
#include "common/outbox_channel.hpp"
#include "common/uuid.hpp"
#include "schema/migrator.hpp"
#include "service/error_mapping.hpp"

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

}  // namespace

TaskApi::TaskApi(asio::io_context& ioc, ApiConfig config)
    : ioc_(ioc),
      config_(std::move(config)),
      registry_(std::make_shared<prometheus::Registry>()),
      metrics_(*registry_),
      repository_(config_.dual_write) {
  if (config_.dual_write) notifier_ = std::make_unique<OutboxNotifier>(config_.database);
  pool_ = std::make_unique<PgPool>(config_.database, [dual_write = config_.dual_write](pqxx::connection& conn) {
    prepare_task_statements(conn);
    if (dual_write) {
      pqxx::nontransaction session(conn);
      session.exec0(kDeferOutboxNotify);  // the OutboxNotifier wakes the workers after each commit
    }
  });
  if (config_.authn) authn_ = std::make_unique<AuthnClient>(*config_.authn);
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
                                 {"auth", config_.authn ? "agentex-auth" : "disabled"}});
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
  const auto principal = co_await authenticate(req);
  const Call call{match, req, principal};
  switch (match.route) {
    case Route::create_agent:
      co_return co_await create_agent(call);
    case Route::list_agents:
      co_return co_await list_agents(call);
    case Route::get_agent:
    case Route::get_agent_by_name:
      co_return co_await get_agent(call);
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
    case Route::delete_task:
    case Route::delete_task_by_name:
      co_return co_await delete_task(call);
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

TaskApi::Response TaskApi::list_agents(const Call& call) {
  auto page = parse_page(parse_query(call.match.query));
  auto json = co_await db<std::string>(
      [&](pqxx::connection& c) { return repository_.list_agents(c, page.limit, (page.page_number - 1) * page.limit); });
  co_return json_response(http::status::ok, std::move(json));
}

TaskApi::Response TaskApi::get_agent(const Call& call) {
  std::optional<std::string> json;
  if (call.match.route == Route::get_agent) {
    auto id = path_id(call.match.params[0], "agent");
    json = co_await db<std::optional<std::string>>([&](pqxx::connection& c) { return repository_.agent_by_id(c, id); });
  } else {
    const auto& name = call.match.params[0];
    json = co_await db<std::optional<std::string>>(
        [&](pqxx::connection& c) { return repository_.agent_by_name(c, name); });
  }
  co_return json_response(http::status::ok, found_or_404(std::move(json), "agent"));
}

TaskApi::Response TaskApi::create_task(const Call& call) {
  require_json_body(call.req);
  const auto request = parse_create_task(call.req.body(), config_.max_json_depth);
  co_return co_await create_task_in(request, call.principal);
}

TaskApi::Response TaskApi::list_tasks(const Call& call) {
  auto filter = parse_task_filter(parse_query(call.match.query));
  auto json = co_await db<std::string>([&](pqxx::connection& c) { return repository_.list_tasks(c, filter); });
  co_return json_response(http::status::ok, std::move(json));
}

TaskApi::Response TaskApi::get_task(const Call& call) {
  std::optional<std::string> json;
  if (call.match.route == Route::get_task) {
    auto id = path_id(call.match.params[0], "task");
    json = co_await db<std::optional<std::string>>([&](pqxx::connection& c) { return repository_.task_by_id(c, id); });
  } else {
    const auto& name = call.match.params[0];
    json =
        co_await db<std::optional<std::string>>([&](pqxx::connection& c) { return repository_.task_by_name(c, name); });
  }
  co_return json_response(http::status::ok, found_or_404(std::move(json), "task"));
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
  // A named local, not a temporary: GCC 12 mishandles by-value temporaries in co_await.
  AgentRef agent;
  if (call.match.route == Route::agent_rpc) {
    agent.id = path_id(call.match.params[0], "agent");
  } else {
    agent.name = call.match.params[0];
  }
  require_json_body(call.req);
  auto rpc = parse_rpc(call.req.body(), config_.max_json_depth);
  if (rpc.method != "task/create") throw ApiError(ErrorKind::invalid, "unknown method " + rpc.method);
  NewTask task{new_uuid_v4(), parse_rpc_task_create(rpc.params, agent), creator_of(call.principal),
               outbox_principal(call.principal).dump()};
  auto result = co_await db<TaskRepository::GetOrCreate>(
      [&](pqxx::connection& c) { return repository_.get_or_create_task(c, task); });
  // Here the agent is the path's resource: an unknown one is a 404.
  if (!result.json) throw_not_found("agent");
  if (result.created) {
    outbox_changed();
    metrics_.task_created(task.creator.kind());
  }
  std::string body = R"({"jsonrpc":"2.0","id":)" + rpc.id.dump() + R"(,"result":)" + *result.json + "}";
  co_return json_response(http::status::ok, std::move(body));
}

TaskApi::Response TaskApi::delete_task(const Call& call) {
  const std::string outbox = outbox_principal(call.principal).dump();
  DeleteResult result;
  if (call.match.route == Route::delete_task) {
    auto id = path_id(call.match.params[0], "task");
    result =
        co_await db<DeleteResult>([&](pqxx::connection& c) { return repository_.delete_task_by_id(c, id, outbox); });
  } else {
    const auto& name = call.match.params[0];
    result = co_await db<DeleteResult>(
        [&](pqxx::connection& c) { return repository_.delete_task_by_name(c, name, outbox); });
  }
  // The same 404 whether dual-write is on or off.
  if (!result.id) throw_not_found("task");
  if (result.outbox == OutboxOnDelete::desire_flipped || result.outbox == OutboxOnDelete::deregister_enqueued) {
    outbox_changed();
  }
  co_return json_response(http::status::ok, nlohmann::json{{"id", *result.id}, {"message", "task deleted"}}.dump());
}

}  // namespace fgac::api
