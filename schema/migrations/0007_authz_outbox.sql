-- The transactional outbox: one row per resource holding its desired authz
-- state (level-triggered, see DESIGN.md "The outbox"). Rows are deleted once
-- delivered, so the table only ever holds pending and dead rows.
--
-- A new, empty table: creating it and its indexes inside the migration's
-- transaction locks nothing that other sessions use.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';

-- Storage settings (DESIGN.md, the paragraph on vacuum): a drain churns the
-- table far faster than the default autovacuum trigger (20% of the table
-- dead) reacts. Measured: dead tuples piling up ahead of the claim halved
-- drain throughput within 20s, and a lease UPDATE before the delete grew the
-- table by up to 39%.
--   fillfactor = 70: keep 30% of each page free so the claim's lease update
--     and a retry's attempts/next_attempt_at update fit on the same page and
--     stay HOT (no new index entries, pruned without vacuum).
--   *_scale_factor = 0 with fixed thresholds: trigger on an absolute number of
--     dead (or inserted) tuples whatever the table size; the table swings
--     between empty and millions of rows, so a proportional trigger would fire
--     far too late on a large backlog. 1000 dead tuples is a few pages of a
--     small table and a fraction of a second of drain, so vacuum runs on every
--     autovacuum_naptime pass while the worker is busy. Each pass is cheap:
--     the table holds only pending and dead-lettered rows.
--   autovacuum_vacuum_insert_*: inserts trigger vacuum too, so a large
--     enqueue (taskctl backfill) is frozen and visibility-mapped in small
--     steps rather than in one big anti-wraparound pass later.
--   autovacuum_vacuum_cost_delay = 0: no throttling; a throttled vacuum falls
--     behind the churn it is meant to clean up.
--   autovacuum_analyze_*: fresh row counts as the table grows and drains keep
--     the planner on the claim index; ANALYZE samples a fixed number of rows,
--     so running it often is cheap.
CREATE TABLE IF NOT EXISTS authz_outbox (
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    parent_type text,
    parent_id text,
    -- Credential-free: principal_type, user_id, service_account_id, account_id.
    principal jsonb NOT NULL DEFAULT '{}',
    desired text NOT NULL,
    -- Bumped whenever the desire changes; the worker deletes a delivered row
    -- only WHERE generation = the generation it delivered.
    generation bigint NOT NULL DEFAULT 1,
    -- Grows by one per delivery attempt; with backoff capped at 60s, 2^31
    -- attempts take four thousand years.
    -- squawk-ignore prefer-bigint-over-int
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until timestamptz,
    leased_by text,
    -- True once any call may have reached the authz service: a task deleted
    -- while its row is unsent needs no deregister.
    sent boolean NOT NULL DEFAULT false,
    last_error text,
    last_exception_class text,
    -- An HTTP status code.
    -- squawk-ignore prefer-bigint-over-int
    last_status integer,
    dead_at timestamptz,
    -- When the current desire was enqueued: claim order and lag metric.
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (resource_type, resource_id),
    CONSTRAINT ck_authz_outbox_desired CHECK (desired IN ('present', 'absent'))
) WITH (
    fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 1000
);

-- Indexes cover only what the claim and the dead-letter listing need, and key
-- on no column that a claim or a retry writes (leased_until, leased_by,
-- attempts, next_attempt_at, sent, last_*): updates of those stay HOT.
-- enqueued_at changes only when the desire changes, dead_at only when a row
-- is dead-lettered or requeued. The claim walks live rows in enqueued_at
-- order and filters lease and next_attempt_at on the heap row.
-- Plain CREATE INDEX is safe here (the table is new and empty, see the top),
-- and squawk's require-concurrent-index-creation knows that: it exempts
-- tables created in the same file.
CREATE INDEX IF NOT EXISTS ix_authz_outbox_claim
    ON authz_outbox (enqueued_at)
    WHERE dead_at IS NULL;

CREATE INDEX IF NOT EXISTS ix_authz_outbox_dead
    ON authz_outbox (dead_at)
    WHERE dead_at IS NOT NULL;

-- Wake the workers (LISTEN authz_outbox) when a row becomes due: a new row, a
-- changed desire (generation) or a requeued dead letter (dead_at set back to
-- NULL). Lease, attempt and retry updates do not fire it: UPDATE OF fires only
-- when the statement's SET list names generation or dead_at, so the worker
-- must not write those columns when it claims or reschedules a row.
-- Identical notifications within one transaction are folded into one, so a
-- per-row trigger costs one NOTIFY per transaction. The payload is empty:
-- the workers poll the table, a NOTIFY only says "look now".
CREATE OR REPLACE FUNCTION authz_outbox_notify() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('authz_outbox', '');
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER tr_authz_outbox_notify
    AFTER INSERT OR UPDATE OF generation, dead_at ON authz_outbox
    FOR EACH ROW
    WHEN (NEW.dead_at IS NULL)
    EXECUTE FUNCTION authz_outbox_notify();
