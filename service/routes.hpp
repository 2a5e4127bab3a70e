// The task API's routes: matching a method and path to a route pattern (pure).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>

namespace fgac::api {

namespace http = boost::beast::http;

enum class Route {
  none,
  openapi,
  create_agent,
  register_agent,
  list_agents,
  get_agent,
  get_agent_by_name,
  delete_agent,
  delete_agent_by_name,
  agent_rpc,
  agent_rpc_by_name,
  create_task,
  list_tasks,
  get_task,
  get_task_by_name,
  update_task,
  update_task_by_name,
  transition_task,
  delete_task,
  delete_task_by_name,
};

// What a route needs of the caller (FGAC_TASKS_ENFORCE): the operation on the
// task it names, or authentication only. Every route declares one; `unset`
// exists so that a route added without a policy fails a unit test.
enum class Policy {
  unset,
  public_,        // no caller needed (the API's own description)
  authenticated,  // creates, agents, and the task list (filtered to the caller's tasks in SQL)
  read,
  update,
  cancel,
  delete_,
  rpc_method,  // per JSON-RPC method: task/create authenticated (+ read on an existing name), task/cancel cancel
};

struct RouteSpec {
  http::verb method;
  std::string_view pattern;
  Route route;
  Policy policy = Policy::unset;
};

// Every route, in matching order.
std::span<const RouteSpec> route_table();

struct RouteMatch {
  Route route = Route::none;
  Policy policy = Policy::unset;
  std::string_view pattern = "unmatched";  // the metrics label: never an id
  std::vector<std::string> params;         // percent-decoded path parameters
  bool method_not_allowed = false;         // the path exists, the method does not
  std::string query;                       // raw query string
};

// Throws ApiError(malformed) on a bad percent-escape in the path.
RouteMatch match_route(http::verb method, std::string_view target);

}  // namespace fgac::api
