-- Validate the existing agents against ck_agents_contract_enums (0011).
-- VALIDATE takes SHARE UPDATE EXCLUSIVE (reads and writes go on) and runs in
-- its own transaction, after 0011's ACCESS EXCLUSIVE lock was released.
-- Validating a valid constraint is a no-op, so the file is re-runnable.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '15min';

ALTER TABLE agents VALIDATE CONSTRAINT ck_agents_contract_enums;
