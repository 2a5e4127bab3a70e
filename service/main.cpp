// task-api: serve until SIGTERM, then let in-flight requests finish.
#include "common/serve.hpp"
#include "service/config.hpp"
#include "service/task_api.hpp"

int main() {
  return fgac::serve<fgac::api::TaskApi>("task-api",
                                         [](const fgac::EnvSource& env) { return fgac::api::load_api_config(env); });
}
