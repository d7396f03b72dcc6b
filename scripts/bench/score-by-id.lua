-- wrk script for scripts/bench/score-load: POST /score {"transaction_id": …}
-- with a stored transaction id picked at random per request.
-- Usage: wrk … -s score-by-id.lua URL -- IDS_FILE   (one UUID per line)

local ids = {}

-- Numbers the threads (runs in wrk's main Lua state).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  local path = args[1] or error("usage: wrk ... -s score-by-id.lua URL -- IDS_FILE")
  for line in io.lines(path) do
    if line ~= "" then
      ids[#ids + 1] = line
    end
  end
  if #ids == 0 then
    error("no transaction ids in " .. path)
  end
  math.randomseed(os.time() * 100 + thread_number)
end

local headers = { ["Content-Type"] = "application/json" }

function request()
  local id = ids[math.random(#ids)]
  return wrk.format("POST", "/score", headers, '{"transaction_id":"' .. id .. '"}')
end
