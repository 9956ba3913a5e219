-- Page load: GET <item path> with the data file's headers (a logged-in organiser's cookie).
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
  return wrk.format("GET", item[1], data.headers)
end
