// The names writers and workers share to signal outbox changes (see
// schema/migrations/0007 and 0009).
#pragma once

namespace fgac {

// Workers LISTEN here; every change that makes an outbox row due is NOTIFYed here.
inline constexpr const char* kOutboxChannel = "authz_outbox";

// A session that runs this promises to NOTIFY kOutboxChannel itself after each
// commit that wrote the outbox; the row trigger then stays silent for it, so
// its commits do not serialize on Postgres's notify lock.
inline constexpr const char* kDeferOutboxNotify = "SET fgac.outbox_notify = 'deferred'";

}  // namespace fgac
