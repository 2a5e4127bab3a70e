-- Validate the existing rows against ck_tasks_at_most_one_creator. VALIDATE
-- takes SHARE UPDATE EXCLUSIVE, which does not block reads or writes, so the
-- scan may take as long as it needs; it runs in its own transaction so the
-- ACCESS EXCLUSIVE lock of 0003 is not held during the scan. Validating an
-- already valid constraint is a no-op, so the file is re-runnable as is.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '15min';

ALTER TABLE tasks VALIDATE CONSTRAINT ck_tasks_at_most_one_creator;
