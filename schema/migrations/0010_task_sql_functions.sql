-- Two pieces of SQL that several statements share, defined once here rather
-- than pasted into each statement or assembled from templates at start-up.
--
-- Both are LANGUAGE sql, STABLE, not STRICT and without SET clauses, so the
-- planner inlines them into the calling statement: the plans are exactly those
-- of the LATERAL subquery and the json_build_object they replace (check with
-- EXPLAIN VERBOSE). CREATE OR REPLACE FUNCTION touches only the catalog.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';

-- The agent a task was created under: its first task_agents row. The task
-- API's reads, the outbox's register parent and taskctl all mean this one.
CREATE OR REPLACE FUNCTION task_first_agent(p_task_id uuid)
RETURNS TABLE (agent_id uuid)
LANGUAGE sql STABLE ROWS 1
AS $$
  SELECT ta.agent_id FROM task_agents ta WHERE ta.task_id = p_task_id ORDER BY ta.created_at LIMIT 1
$$;

-- The task API's Task JSON. authz_status follows from the dual-write flag and
-- the task's outbox row (dead, pending) or its sync column.
CREATE OR REPLACE FUNCTION task_json(t tasks, p_agent_id uuid, p_dual_write boolean, p_outbox_dead boolean,
                                     p_outbox_pending boolean)
RETURNS json
LANGUAGE sql STABLE
AS $$
  SELECT json_build_object(
    'id', t.id, 'name', t.name, 'status', t.status, 'status_reason', t.status_reason,
    'params', t.params, 'task_metadata', t.task_metadata, 'agent_id', p_agent_id,
    'creator_user_id', t.creator_user_id, 'creator_service_account_id', t.creator_service_account_id,
    'created_at', t.created_at, 'updated_at', t.updated_at,
    'authz_status', CASE WHEN NOT p_dual_write THEN 'disabled'
                         WHEN p_outbox_dead THEN 'dead'
                         WHEN p_outbox_pending THEN 'pending'
                         WHEN t.authz_synced_at IS NOT NULL THEN 'synced'
                         ELSE 'disabled' END,
    'authz_zedtoken', t.authz_zedtoken)
$$;
