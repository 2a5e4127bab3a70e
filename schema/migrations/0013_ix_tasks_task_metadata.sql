-- fgac:no-transaction
-- GIN index behind GET /tasks?task_metadata=<json object>, which filters by
-- containment (task_metadata @> $1), as upstream agentex does. jsonb_path_ops
-- serves exactly @> and is smaller and faster than the default opclass.
-- Tasks without metadata are left out (partial), so they cost nothing.
--
-- CREATE INDEX CONCURRENTLY cannot run in a transaction, hence the marker on
-- the first line: the migrator runs each statement on its own in a fresh
-- session, so plain SET (not SET LOCAL) holds for the whole file. The build
-- takes SHARE UPDATE EXCLUSIVE: inserts and updates on tasks go on.
-- lock_timeout also bounds the build's waits for older transactions: one
-- open longer than 5s makes the build fail, and the file is simply re-run.
SET lock_timeout = '5s';
SET statement_timeout = '15min';

-- Re-run safety. The migrator re-runs this file only while it is not recorded
-- as applied, i.e. after an attempt that failed. A failed concurrent build
-- (timeout, cancel, crash) leaves an INVALID index behind, which IF NOT EXISTS
-- would silently keep. A blanket DROP INDEX CONCURRENTLY IF EXISTS would also
-- drop and rebuild a VALID index, so an invalid leftover is renamed aside
-- (ALTER INDEX ... RENAME takes only SHARE UPDATE EXCLUSIVE) and dropped
-- concurrently under that name, which never names a valid index. Against a
-- valid index every statement below is a no-op. The first DROP clears an
-- aside copy that an attempt interrupted between RENAME and DROP left behind.
-- Assumes the migrator serializes runs: a build in progress elsewhere also
-- looks invalid.
DROP INDEX CONCURRENTLY IF EXISTS ix_tasks_task_metadata_invalid;

DO $$
BEGIN
    IF EXISTS (
        SELECT 1
        FROM pg_catalog.pg_index
        WHERE indexrelid = to_regclass('ix_tasks_task_metadata')
          AND NOT indisvalid
    ) THEN
        ALTER INDEX ix_tasks_task_metadata RENAME TO ix_tasks_task_metadata_invalid;
    END IF;
END
$$;

DROP INDEX CONCURRENTLY IF EXISTS ix_tasks_task_metadata_invalid;

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_tasks_task_metadata
    ON tasks USING gin (task_metadata jsonb_path_ops)
    WHERE task_metadata IS NOT NULL;

-- Never let the migrator record this file with anything but a valid index.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1
        FROM pg_catalog.pg_index
        WHERE indexrelid = to_regclass('ix_tasks_task_metadata')
          AND indisvalid
    ) THEN
        RAISE EXCEPTION 'index ix_tasks_task_metadata is missing or invalid after CREATE INDEX CONCURRENTLY';
    END IF;
END
$$;
