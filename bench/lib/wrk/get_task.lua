-- GET /tasks/{id} as a client would: a bearer token, cycling through the task
-- ids of a file (one a line); each thread starts at a different place. Also
-- counts every response that is not 2xx (wrk's own status errors count only
-- 4xx and 5xx).
-- wrk -s get_task.lua URL -- TOKEN IDS_FILE
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local report = require("report")

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

local token
local ids = {}
local next_id = 1
non_2xx = 0
function init(args)
  token = args[1]
  for line in io.lines(args[2]) do
    if line ~= "" then table.insert(ids, line) end
  end
  if #ids == 0 then error("no task ids in " .. args[2]) end
  next_id = ((thread_no - 1) * 7919) % #ids + 1
end

function request()
  local id = ids[next_id]
  next_id = next_id % #ids + 1
  return wrk.format("GET", "/tasks/" .. id, { ["Authorization"] = "Bearer " .. token })
end

function response(status, headers, body)
  if status < 200 or status > 299 then non_2xx = non_2xx + 1 end
end

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + (t:get("non_2xx") or 0) end
  report.done(summary, latency, requests, { non_2xx = n })
end
