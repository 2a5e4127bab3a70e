#include "service/routes.hpp"

#include <array>

#include "service/requests.hpp"

namespace fgac::api {
namespace {

using enum Policy;
constexpr std::array<RouteSpec, 24> kRoutes{{
    {http::verb::get, "/openapi.json", Route::openapi, public_},
    {http::verb::post, "/agents", Route::create_agent, authenticated},
    {http::verb::get, "/agents", Route::list_agents, authenticated},
    {http::verb::post, "/agents/register", Route::register_agent, authenticated},
    {http::verb::get, "/agents/name/{agent_name}", Route::get_agent_by_name, authenticated},
    {http::verb::delete_, "/agents/name/{agent_name}", Route::delete_agent_by_name, authenticated},
    {http::verb::post, "/agents/name/{agent_name}/rpc", Route::agent_rpc_by_name, rpc_method},
    {http::verb::get, "/agents/{agent_id}", Route::get_agent, authenticated},
    {http::verb::delete_, "/agents/{agent_id}", Route::delete_agent, authenticated},
    {http::verb::post, "/agents/{agent_id}/rpc", Route::agent_rpc, rpc_method},
    {http::verb::post, "/tasks", Route::create_task, authenticated},
    {http::verb::get, "/tasks", Route::list_tasks, authenticated},
    {http::verb::get, "/tasks/name/{task_name}", Route::get_task_by_name, read},
    {http::verb::put, "/tasks/name/{task_name}", Route::update_task_by_name, update},
    {http::verb::delete_, "/tasks/name/{task_name}", Route::delete_task_by_name, delete_},
    {http::verb::get, "/tasks/{task_id}", Route::get_task, read},
    {http::verb::put, "/tasks/{task_id}", Route::update_task, update},
    {http::verb::delete_, "/tasks/{task_id}", Route::delete_task, delete_},
    // The six status changes (requests.hpp: transition_for reads the last segment).
    {http::verb::post, "/tasks/{task_id}/complete", Route::transition_task, update},
    {http::verb::post, "/tasks/{task_id}/fail", Route::transition_task, update},
    {http::verb::post, "/tasks/{task_id}/cancel", Route::transition_task, cancel},
    {http::verb::post, "/tasks/{task_id}/interrupt", Route::transition_task, update},
    {http::verb::post, "/tasks/{task_id}/terminate", Route::transition_task, update},
    {http::verb::post, "/tasks/{task_id}/timeout", Route::transition_task, update},
}};

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') path.remove_prefix(1);
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  return out;
}

// Matches segments; literal segments win over parameters because literal
// patterns ("/agents/name/...") come first in the table.
bool match_pattern(std::string_view pattern, const std::vector<std::string_view>& segments,
                   std::vector<std::string>& params) {
  auto parts = split_path(pattern);
  if (parts.size() != segments.size()) return false;
  std::vector<std::string> found;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].starts_with('{')) {
      if (segments[i].empty()) return false;
      found.push_back(percent_decode(segments[i], PlusMeans::plus));  // a path is not form-encoded
    } else if (parts[i] != segments[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

}  // namespace

std::span<const RouteSpec> route_table() {
  return kRoutes;
}

RouteMatch match_route(http::verb method, std::string_view target) {
  RouteMatch m;
  if (method == http::verb::head) method = http::verb::get;  // the server sends the header only
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (q != std::string_view::npos) m.query = std::string(target.substr(q + 1));
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const auto segments = split_path(path);
  for (const auto& spec : kRoutes) {
    std::vector<std::string> params;
    if (!match_pattern(spec.pattern, segments, params)) continue;
    if (spec.method != method) {
      m.method_not_allowed = true;
      m.pattern = spec.pattern;
      continue;
    }
    m.route = spec.route;
    m.policy = spec.policy;
    m.pattern = spec.pattern;
    m.params = std::move(params);
    m.method_not_allowed = false;
    return m;
  }
  return m;
}

}  // namespace fgac::api
