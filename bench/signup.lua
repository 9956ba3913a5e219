-- Sign-up load: POST <item path> as the volunteer of the item (its Cookie and X-CSRFToken),
-- or with no session at all for the baseline app. Items are (path[, cookie, csrf]) and are
-- never repeated within a run, so every request is a new (volunteer, shift) pair.
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/wrk_common.lua")
setup = c.setup
done = c.done

local data
local i = 0

function init(args)
  data = c.read(args[1])
end

function request()
  local j = i * data.threads + tid
  i = i + 1
  local item = data.items[(j % #data.items) + 1]
  local headers = c.copy(data.headers)
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  if item[2] and item[2] ~= "" then
    headers["Cookie"] = item[2]
    headers["X-CSRFToken"] = item[3]
  end
  return wrk.format("POST", item[1], headers, "")
end
