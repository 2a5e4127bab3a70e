-- POST /tasks as a client would: a bearer token and a unique task name per request.
-- wrk -s create_task.lua URL -- AGENT_NAME TOKEN NAME_PREFIX [THINK_MS]
-- THINK_MS: each connection waits this long after an answer before its next
-- request (wrk's delay()), which paces a closed loop near a target rate.
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local report = require("report")

setup = report.number_threads

local counter = 0
local agent, token, prefix
local think_ms = 0
function init(args)
  agent, token, prefix = args[1], args[2], args[3]
  think_ms = tonumber(args[4] or "0")
end

function delay()
  return think_ms
end

function request()
  counter = counter + 1
  local body = string.format('{"agent_name":"%s","name":"%s-%d-%d","params":{"k":1},"task_metadata":{}}',
    agent, prefix, thread_no, counter)
  return wrk.format("POST", "/tasks", { ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json" }, body)
end

done = report.done
