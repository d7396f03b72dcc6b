-- wrk script for scripts/bench/score-load: POST /score {"transaction": …}
-- with a new transaction per request: a fresh random UUID v4, the current
-- time, and the card holder, merchant, country, device, channel and
-- currency of a stored transaction picked at random (so the features see
-- known users and merchants), with an amount drawn around its amount.
-- Usage: wrk … -s score-new.lua URL -- TEMPLATES_FILE
-- TEMPLATES_FILE: one tab-separated line per stored transaction: user_id,
-- merchant_id, merchant_category, amount, currency, country, device_id,
-- channel (empty = absent).

local templates = {}

local function split_tabs(line)
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    fields[#fields + 1] = field
  end
  return fields
end

-- Numbers the threads (runs in wrk's main Lua state).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  local path = args[1] or error("usage: wrk ... -s score-new.lua URL -- TEMPLATES_FILE")
  for line in io.lines(path) do
    local f = split_tabs(line)
    if #f == 8 then
      templates[#templates + 1] = f
    end
  end
  if #templates == 0 then
    error("no transactions in " .. path)
  end
  -- Each wrk thread has its own Lua state: seed each differently, or the
  -- threads would send the same "fresh" ids.
  math.randomseed(os.time() * 100 + thread_number)
end

local function hex16()
  return string.format("%04x", math.random(0, 0xffff))
end

-- A random (version 4, variant 1) UUID.
local function uuid4()
  return hex16() .. hex16() .. "-" .. hex16() .. "-"
    .. string.format("4%03x", math.random(0, 0xfff)) .. "-"
    .. string.format("%x%03x", math.random(8, 11), math.random(0, 0xfff)) .. "-"
    .. hex16() .. hex16() .. hex16()
end

-- A JSON string field, or nothing when the value is absent. The stored
-- identifiers are plain ASCII without quotes or backslashes.
local function field(name, value)
  if value == nil or value == "" then
    return ""
  end
  return ',"' .. name .. '":"' .. value .. '"'
end

local headers = { ["Content-Type"] = "application/json" }

function request()
  local t = templates[math.random(#templates)]
  local amount = (tonumber(t[4]) or 20) * (0.5 + math.random())
  local body = '{"transaction":{"transaction_id":"' .. uuid4() .. '"'
    .. field("user_id", t[1])
    .. field("merchant_id", t[2])
    .. field("merchant_category", t[3])
    .. string.format(',"amount":%.2f', amount)
    .. field("currency", t[5])
    .. field("country", t[6])
    .. field("device_id", t[7])
    .. field("channel", t[8])
    .. ',"timestamp":"' .. os.date("!%Y-%m-%dT%H:%M:%SZ") .. '"}}'
  return wrk.format("POST", "/score", headers, body)
end
