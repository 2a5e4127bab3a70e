-- The Agent fields the agentex client requires (acp_type, status) and the
-- ones POST /agents/register writes (docs/agentex-contract.md, section 2.1).
-- Adding a column with a constant default is catalog-only since PostgreSQL
-- 11 (no table rewrite); the rest are nullable without a default. Existing
-- agents become async (they may be sent every RPC method we serve) and Ready.
-- An agent is deleted by setting its status to 'Deleted', as upstream does:
-- its id, name and tasks stay, and registering the name again revives it.
--
-- The enum checks are added NOT VALID (no scan under ACCESS EXCLUSIVE); 0012
-- validates the existing rows, which all hold the defaults.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';

ALTER TABLE agents ADD COLUMN IF NOT EXISTS acp_type text NOT NULL DEFAULT 'async';
ALTER TABLE agents ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'Ready';
ALTER TABLE agents ADD COLUMN IF NOT EXISTS status_reason text;
ALTER TABLE agents ADD COLUMN IF NOT EXISTS acp_url text;
ALTER TABLE agents ADD COLUMN IF NOT EXISTS registration_metadata jsonb;
ALTER TABLE agents ADD COLUMN IF NOT EXISTS registered_at timestamptz;
ALTER TABLE agents ADD COLUMN IF NOT EXISTS agent_input_type text;

-- ADD CONSTRAINT has no IF NOT EXISTS: the DO block makes a re-run a no-op.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_constraint
        WHERE conrelid = 'agents'::regclass AND conname = 'ck_agents_contract_enums'
    ) THEN
        ALTER TABLE agents
            ADD CONSTRAINT ck_agents_contract_enums
            CHECK (acp_type IN ('sync', 'async', 'agentic')
                   AND status IN ('Ready', 'Failed', 'Unknown', 'Deleted', 'Unhealthy', 'BuildOnly')
                   AND (agent_input_type IS NULL OR agent_input_type IN ('text', 'json')))
            NOT VALID;
    END IF;
END
$$;
