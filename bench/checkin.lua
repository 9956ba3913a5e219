-- Check-in load: POST <item path> {"scans":[{nonce, token, scanned_at}]} with the lead's
-- session cookie and X-CSRFToken (data-file headers). Every request has a unique nonce
-- (run prefix, thread, counter); tokens come from the data file, written just before the run.
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/wrk_common.lua")
setup = c.setup
done = c.done

local data, headers
local i = 0

function init(args)
  data = c.read(args[1])
  headers = c.copy(data.headers)
  headers["Content-Type"] = "application/json"
end

function request()
  local j = i * data.threads + tid
  i = i + 1
  local item = data.items[(j % #data.items) + 1]
  local body = string.format(
    '{"scans":[{"nonce":"%s-%d","token":"%s","scanned_at":%d}]}',
    data.run, j, item[2], os.time() * 1000)
  return wrk.format("POST", item[1], headers, body)
end
