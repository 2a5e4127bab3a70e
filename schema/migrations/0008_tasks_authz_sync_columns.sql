-- Written by the outbox worker when a register call succeeds: the zedtoken the
-- authz service returned (for at_least_as_fresh checks) and when the task was
-- synced. NULL means not (yet) synced. Nullable, no default: catalog-only.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';

ALTER TABLE tasks ADD COLUMN IF NOT EXISTS authz_zedtoken text;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS authz_synced_at timestamptz;
