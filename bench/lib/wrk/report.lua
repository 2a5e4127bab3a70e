-- Shared by the wrk scripts: one machine-readable line with the rate, the
-- latency percentiles (microseconds), every error count and, if a script
-- passes them, counts of its own (extra: {name = integer}).
local report = {}

-- setup = report.number_threads gives each wrk thread a global thread_no
-- (1, 2, ...), so that its requests can make names no other thread makes.
local threads_numbered = 0
function report.number_threads(thread)
  threads_numbered = threads_numbered + 1
  thread:set("thread_no", threads_numbered)
end

function report.done(summary, latency, requests, extra)
  local e = summary.errors
  local more = ""
  for name, n in pairs(extra or {}) do more = more .. string.format(',"%s":%d', name, n) end
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d}%s}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max, more))
end

return report
