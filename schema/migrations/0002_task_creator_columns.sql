-- Who created a task: a user or a service account (at most one, see 0003).
-- Nullable columns without a default are a catalog-only change: no rewrite,
-- no scan, only a brief ACCESS EXCLUSIVE lock that lock_timeout bounds.
-- Existing rows keep NULL; there is no backfill.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';

ALTER TABLE tasks ADD COLUMN IF NOT EXISTS creator_user_id text;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS creator_service_account_id text;
