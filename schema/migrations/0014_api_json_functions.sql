-- The API's JSON, each piece defined once: agent_json (every Agent the API
-- answers), task_json again with the field of upstream's Task model that we
-- do not store (cleaned_at: we have no retention cleaner, so always null),
-- task_agents_json (?relationships=agents) and task_view (a task from its row
-- alone). Same inlining rules as 0010: LANGUAGE sql, STABLE, not STRICT, no
-- SET clauses. Catalog-only.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';

CREATE OR REPLACE FUNCTION agent_json(a agents)
RETURNS json
LANGUAGE sql STABLE
AS $$
  SELECT json_build_object(
    'id', a.id, 'name', a.name, 'description', coalesce(a.description, ''),
    'acp_type', a.acp_type, 'status', a.status, 'status_reason', a.status_reason,
    'registration_metadata', a.registration_metadata, 'registered_at', a.registered_at,
    'agent_input_type', a.agent_input_type, 'production_deployment_id', NULL::text,
    'created_at', a.created_at, 'updated_at', a.updated_at)
$$;

CREATE OR REPLACE FUNCTION task_json(t tasks, p_agent_id uuid, p_dual_write boolean, p_outbox_dead boolean,
                                     p_outbox_pending boolean)
RETURNS json
LANGUAGE sql STABLE
AS $$
  SELECT json_build_object(
    'id', t.id, 'name', t.name, 'status', t.status, 'status_reason', t.status_reason,
    'params', t.params, 'task_metadata', t.task_metadata, 'agent_id', p_agent_id,
    'creator_user_id', t.creator_user_id, 'creator_service_account_id', t.creator_service_account_id,
    'created_at', t.created_at, 'updated_at', t.updated_at, 'cleaned_at', NULL::timestamptz,
    'authz_status', CASE WHEN NOT p_dual_write THEN 'disabled'
                         WHEN p_outbox_dead THEN 'dead'
                         WHEN p_outbox_pending THEN 'pending'
                         WHEN t.authz_synced_at IS NOT NULL THEN 'synced'
                         ELSE 'disabled' END,
    'authz_zedtoken', t.authz_zedtoken)
$$;

-- The agents a task is linked to (?relationships=agents), deleted ones
-- included as upstream lists them, in the order they were linked.
CREATE OR REPLACE FUNCTION task_agents_json(p_task_id uuid)
RETURNS json
LANGUAGE sql STABLE
AS $$
  SELECT coalesce(json_agg(agent_json(a) ORDER BY ta.created_at, a.id), '[]'::json)
    FROM task_agents ta JOIN agents a ON a.id = ta.agent_id
   WHERE ta.task_id = p_task_id
$$;

-- A task as the API answers it, looked up from the row alone: its first
-- agent and its outbox state by subqueries (primary-key lookups). The
-- statements that write a task and answer it (update, status changes,
-- task/create on an existing name) return this from their RETURNING rows.
CREATE OR REPLACE FUNCTION task_view(t tasks, p_dual_write boolean)
RETURNS json
LANGUAGE sql STABLE
AS $$
  SELECT task_json(
    t,
    (SELECT fa.agent_id FROM task_first_agent(t.id) fa),
    p_dual_write,
    EXISTS (SELECT 1 FROM authz_outbox o
             WHERE o.resource_type = 'task' AND o.resource_id = t.id::text AND o.dead_at IS NOT NULL),
    EXISTS (SELECT 1 FROM authz_outbox o WHERE o.resource_type = 'task' AND o.resource_id = t.id::text))
$$;
