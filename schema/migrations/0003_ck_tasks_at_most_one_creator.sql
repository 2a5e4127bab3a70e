-- A task has at most one creator. Added NOT VALID so adding it does not scan
-- the table under ACCESS EXCLUSIVE; new and updated rows are checked from now
-- on, and 0004 validates the existing rows under a weaker lock.
--
-- ADD CONSTRAINT has no IF NOT EXISTS, so the DO block guards it: a re-run,
-- including one after 0004 validated the constraint, leaves it untouched.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1
        FROM pg_catalog.pg_constraint
        WHERE conrelid = 'tasks'::regclass
          AND conname = 'ck_tasks_at_most_one_creator'
    ) THEN
        ALTER TABLE tasks
            ADD CONSTRAINT ck_tasks_at_most_one_creator
            CHECK ((creator_user_id IS NULL) OR (creator_service_account_id IS NULL))
            NOT VALID;
    END IF;
END
$$;
