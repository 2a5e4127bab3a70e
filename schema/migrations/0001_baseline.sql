-- The schema as it stood before the creator/FGAC feature. Existing databases
-- already have these objects, so every statement is IF NOT EXISTS and this
-- file is a no-op there; fresh databases get the baseline from it.
-- Constraints keep Postgres's default names (tasks_pkey, agents_name_key,
-- tasks_name_key, task_agents_task_id_fkey, ...), as on those databases.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';

CREATE TABLE IF NOT EXISTS agents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL UNIQUE,
    description text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tasks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text UNIQUE,
    status text NOT NULL,
    status_reason text,
    params jsonb,
    task_metadata jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS task_agents (
    task_id uuid NOT NULL REFERENCES tasks (id),
    agent_id uuid NOT NULL REFERENCES agents (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, agent_id)
);

-- Listing an agent's tasks and the agent-side foreign key check both look up
-- by agent_id, which is not the leading column of the primary key.
CREATE INDEX IF NOT EXISTS ix_task_agents_agent_id ON task_agents (agent_id);
