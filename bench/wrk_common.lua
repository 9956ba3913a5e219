-- Shared by the bench's wrk scripts: thread numbering, the data file, and a one-line JSON
-- summary (WRKJSON {...}) that bench/common.py reads. The data file has one
-- `key<TAB>value...` per line: threads, run (a nonce prefix), header lines and item lines.
local M = {}
local threads = {}
local numbered = 0

function M.setup(thread)
  thread:set("tid", numbered)
  numbered = numbered + 1
  table.insert(threads, thread)
end

local function split(line)
  local out = {}
  for field in string.gmatch(line, "([^\t]*)\t?") do
    table.insert(out, field)
  end
  -- gmatch yields a trailing empty match; drop it
  if out[#out] == "" then table.remove(out) end
  return out
end

function M.read(path)
  local data = { threads = 1, run = "run", headers = {}, items = {} }
  for line in io.lines(path) do
    local f = split(line)
    if f[1] == "threads" then
      data.threads = tonumber(f[2])
    elseif f[1] == "run" then
      data.run = f[2]
    elseif f[1] == "header" then
      data.headers[f[2]] = f[3]
    elseif f[1] == "item" then
      table.remove(f, 1)
      table.insert(data.items, f)
    end
  end
  return data
end

function M.copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"lat_mean_us":%.1f,"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,' ..
    '"lat_max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end

return M
