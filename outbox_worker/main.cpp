// outbox-worker: deliver until SIGTERM, then drain within the grace period.
#include "common/serve.hpp"
#include "outbox_worker/outbox_worker.hpp"

int main() {
  return fgac::serve<fgac::worker::OutboxWorker>(
      "outbox-worker", [](const fgac::EnvSource& env) { return fgac::worker::load_worker_config(env); });
}
