-- POST /v1/authz/register with the body outbox-worker sends (same keys, same
-- order, a new task id per request), to measure the authz server's own ceiling.
-- wrk -s register.lua URL -- AGENT_ID RUN_TAG
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local report = require("report")

setup = report.number_threads

local counter = 0
local agent_id, tag
function init(args)
  agent_id, tag = args[1], tonumber(args[2])
end

function request()
  counter = counter + 1
  local task_id = string.format("%08x-%04x-4000-8000-%012x", tag, thread_no, counter)
  local body = '{"parent":{"selector":"' .. agent_id .. '","type":"agent"},'
    .. '"principal":{"account_id":"acct-dev","principal_type":"user","user_id":"user-alice"},'
    .. '"resource":{"selector":"' .. task_id .. '","type":"task"}}'
  return wrk.format("POST", "/v1/authz/register", { ["Content-Type"] = "application/json" }, body)
end

done = report.done
