-- wrk script of bench/load.py: the design's mix (bench/mix.py), request by request, each as a
-- random patient of the dataset with that patient's own JWT and client address. Run as
-- `wrk -tN -cN` (one connection per thread, so a thread's response is its last request's).
-- Environment (set by load.py):
--   LOAD_USERS   file, one patient a line: "id watch_id jwt"
--   LOAD_MIX     file, one endpoint a line: "name weight METHOD path body" (body: - reading
--                meal sync); in a path {id} is the patient, {watch} their watch, {type} a
--                metric type drawn per request
--   LOAD_RATE    requests per second per connection, paced like locust's constant_throughput
--                (wait what is left of 1/rate after the answer); 0 = as fast as answered
--   LOAD_OUT     prefix of the per-thread result files (LOAD_OUT.<thread>.tsv)
-- Each answered request appends one line to its thread's file: name, status, end time
-- (CLOCK_MONOTONIC, s), latency (us), and the bench server's X-Bench-* counters (queries,
-- cache hits, cache misses, the request's CPU in us, JWT user entry loads), plus a sample of the
-- body when it failed.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } hl_timespec;
int clock_gettime(int clk, hl_timespec *tp);
]]
local clock = ffi.new("hl_timespec")
local function now_us()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC, the clock of Python's time.monotonic()
  return tonumber(clock.tv_sec) * 1e6 + tonumber(clock.tv_nsec) / 1e3
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    local fields = {}
    for f in string.gmatch(line, "%S+") do fields[#fields + 1] = f end
    if #fields > 0 then out[#out + 1] = fields end
  end
  return out
end

local users, mix, cumulative, total = {}, {}, {}, 0
for _, f in ipairs(lines(os.getenv("LOAD_USERS"))) do
  users[#users + 1] = { id = f[1], watch = f[2], token = f[3], xff = string.format("2001:db8::%x", tonumber(f[1])) }
end
for _, f in ipairs(lines(os.getenv("LOAD_MIX"))) do
  total = total + tonumber(f[2])
  mix[#mix + 1] = { name = f[1], method = f[3], path = f[4], body = f[5] }
  cumulative[#cumulative + 1] = total
end
local interval_us = 0
local rate = tonumber(os.getenv("LOAD_RATE") or "0")
if rate > 0 then interval_us = 1e6 / rate end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
end

local out, current, started, last_start
function init(args)
  math.randomseed(thread_number * 7919 + os.time())
  out = assert(io.open(os.getenv("LOAD_OUT") .. "." .. thread_number .. ".tsv", "w"))
end

local TYPES = { "heart_rate", "steps", "weight", "blood_pressure_systolic" }
local READINGS = { { "weight", 55, 110 }, { "blood_glucose", 80, 140 }, { "heart_rate", 55, 110 } }
local MEALS = { "breakfast", "lunch", "dinner", "snack" }

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

local function hex(n)
  local s = {}
  for i = 1, n do s[i] = string.format("%x", math.random(0, 15)) end
  return table.concat(s)
end

local bodies = {
  reading = function()
    local r = READINGS[math.random(#READINGS)]
    return string.format('{"metric_type": "%s", "value": %.1f, "recorded_at": "%s"}',
      r[1], r[2] + math.random() * (r[3] - r[2]), iso(os.time() - math.random(0, 3600)))
  end,
  meal = function()
    return string.format(
      '{"meal_type": "%s", "description": "Bench meal", "calories": %d, "protein_g": %d, ' ..
      '"carbs_g": %d, "fat_g": %d, "logged_at": "%s"}',
      MEALS[math.random(#MEALS)], math.random(150, 800), math.random(5, 45),
      math.random(10, 90), math.random(3, 35), iso(os.time() - math.random(0, 3600)))
  end,
  -- 60 to 1,440 minute samples, log-uniform (many short syncs, some whole days)
  sync = function(headers)
    local n = math.floor(math.exp(math.log(60) + math.random() * (math.log(1440) - math.log(60))))
    local now = os.time()
    local finish = now - now % 60 - 60 * math.random(0, 600)
    local batch = hex(12)
    headers["Idempotency-Key"] = batch
    local samples = {}
    for i = 0, n - 1 do
      samples[#samples + 1] = string.format(
        '{"metric_type": "heart_rate", "value": %d, "recorded_at": "%s", "external_id": "%s-%d"}',
        math.random(55, 120), iso(finish - 60 * (n - i)), batch, i)
    end
    return '{"samples": [' .. table.concat(samples, ", ") .. "]}"
  end,
}

function delay()
  if interval_us == 0 or last_start == nil then return 0 end
  local wait = interval_us - (now_us() - last_start)
  if wait <= 0 then return 0 end
  return math.floor(wait / 1000)
end

function request()
  local pick, e = math.random() * total, mix[#mix]
  for i = 1, #cumulative do
    if pick < cumulative[i] then e = mix[i]; break end
  end
  local u = users[math.random(#users)]
  local path = e.path:gsub("{id}", u.id):gsub("{watch}", u.watch)
  path = path:gsub("{type}", TYPES[math.random(#TYPES)])
  local headers = {
    ["Authorization"] = "Bearer " .. u.token,
    ["X-Forwarded-For"] = u.xff, -- behind one trusted proxy: each patient their own address
    ["Accept"] = "application/json",
  }
  local body = nil
  if e.body ~= "-" then
    body = bodies[e.body](headers)
    headers["Content-Type"] = "application/json"
  end
  current = e.name
  started = now_us()
  last_start = started
  return wrk.format(e.method, path, headers, body)
end

local function header(headers, name)
  return headers[name] or headers[string.lower(name)] or "-"
end

function response(status, headers, body)
  local finished = now_us()
  local sample = ""
  if status < 200 or status > 299 then
    sample = "\t" .. string.sub(string.gsub(body or "", "%s+", " "), 1, 200)
  end
  out:write(string.format("%s\t%d\t%.6f\t%d\t%s\t%s\t%s\t%s\t%s%s\n", current, status,
    finished / 1e6, finished - started, header(headers, "X-Bench-Queries"),
    header(headers, "X-Bench-Cache-Hits"), header(headers, "X-Bench-Cache-Misses"),
    header(headers, "X-Bench-CPU-us"), header(headers, "X-Bench-User-Loads"), sample))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
end
