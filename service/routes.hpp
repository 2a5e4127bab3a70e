// The task API's routes: matching a method and path to a route pattern (pure).
#pragma once

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

struct RouteMatch {
  Route route = Route::none;
  std::string_view pattern = "unmatched";  // the metrics label: never an id
  std::vector<std::string> params;         // percent-decoded path parameters
  bool method_not_allowed = false;         // the path exists, the method does not
  std::string query;                       // raw query string
};

// Throws ApiError(malformed) on a bad percent-escape in the path.
RouteMatch match_route(http::verb method, std::string_view target);

}  // namespace fgac::api
