-- wrk script of bench/load.py: the design's mix (bench/mix.py), request by request, each as a
-- random patient of the dataset with that patient's own JWT and client address. Run as
-- `wrk -tT -cN` with N connections, each a virtual user, over T threads (T = 1..N; a thread
-- serves N/T connections). wrk tells a script neither which connection asks for a request nor
-- which answers, so:
--   - each request carries its own `X-Request-ID` (as a load balancer sends one); the app
--     returns it, and the response hook finds the request (its endpoint, its start) by it;
--   - pacing: an answer queues the time its virtual user may start its next request (start +
--     1/rate, like locust's constant_throughput: wait what is left after the answer); the next
--     connection of the thread to ask for a delay takes the earliest queued time. Connections
--     are interchangeable (no keep-alive: every request opens one), so the requests start
--     when N paced virtual users would start them.
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
-- body when it failed. An answer without a known X-Request-ID (a server that failed before
-- the app ran) is recorded as endpoint "unmatched", latency 0.
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

local out, run
local sent, names, starts = 0, {}, {} -- requests in flight by X-Request-ID: endpoint, start
local due, first, last = {}, 1, 0 -- pacing: queued start times (us) of the virtual users' next requests
function init(args)
  math.randomseed(thread_number * 7919 + os.time())
  run = string.format("lt-%x-%d-", os.time(), thread_number)
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
  -- 60 to 1,440 minute samples, log-uniform (many short syncs, some whole days); each sample's
  -- time as iso() writes it, the date part formatted once a day (os.date per sample was most
  -- of the script's CPU)
  sync = function(headers)
    local n = math.floor(math.exp(math.log(60) + math.random() * (math.log(1440) - math.log(60))))
    local now = os.time()
    local finish = now - now % 60 - 60 * math.random(0, 600)
    local batch = hex(12)
    headers["Idempotency-Key"] = batch
    local samples, day, date = {}, nil, nil
    for i = 0, n - 1 do
      local t = finish - 60 * (n - i)
      local seconds = t % 86400
      if t - seconds ~= day then day, date = t - seconds, os.date("!%Y-%m-%dT", t) end
      samples[i + 1] = string.format(
        '{"metric_type": "heart_rate", "value": %d, "recorded_at": "%s%02d:%02d:%02dZ", ' ..
        '"external_id": "%s-%d"}',
        math.random(55, 120), date, math.floor(seconds / 3600), math.floor(seconds % 3600 / 60),
        seconds % 60, batch, i)
    end
    return '{"samples": [' .. table.concat(samples, ", ") .. "]}"
  end,
}

function delay()
  if first > last then return 0 end -- a connection's first request, or unpaced
  local start = due[first]
  due[first] = nil
  first = first + 1
  local wait = start - now_us()
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
  sent = sent + 1
  local id = run .. sent
  local headers = {
    ["Authorization"] = "Bearer " .. u.token,
    ["X-Forwarded-For"] = u.xff, -- behind one trusted proxy: each patient their own address
    ["X-Request-ID"] = id, -- as the load balancer sets it; the answer carries it back
    ["Accept"] = "application/json",
  }
  local body = nil
  if e.body ~= "-" then
    body = bodies[e.body](headers)
    headers["Content-Type"] = "application/json"
  end
  names[id] = e.name
  starts[id] = now_us()
  return wrk.format(e.method, path, headers, body)
end

local function header(headers, name)
  return headers[name] or headers[string.lower(name)] or "-"
end

function response(status, headers, body)
  local finished = now_us()
  local id = header(headers, "X-Request-ID")
  local name, started = names[id], starts[id]
  names[id], starts[id] = nil, nil
  if started == nil then
    name, started = "unmatched", finished
  elseif interval_us > 0 then
    last = last + 1
    due[last] = started + interval_us
  end
  local sample = ""
  if status < 200 or status > 299 then
    sample = "\t" .. string.sub(string.gsub(body or "", "%s+", " "), 1, 200)
  end
  out:write(string.format("%s\t%d\t%.6f\t%d\t%s\t%s\t%s\t%s\t%s%s\n", name, status,
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
