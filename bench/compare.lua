-- wrk script for bench/compare.py. Environment (set per run by compare.py):
--   WRK_TOKENS  comma-separated JWTs, used round robin (empty: no Authorization header)
--   WRK_PATHS   comma-separated paths, same order as the tokens (one: every request)
--   WRK_METHOD  GET (default) or POST
--   WRK_BODY    "reading": a heart-rate reading recorded now, as a device posts it
-- done() prints one JSON line that compare.py parses.
local tokens, paths = {}, {}
for t in string.gmatch(os.getenv("WRK_TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = t end
for p in string.gmatch(os.getenv("WRK_PATHS") or "/", "[^,]+") do paths[#paths + 1] = p end
local method = os.getenv("WRK_METHOD") or "GET"
local body_kind = os.getenv("WRK_BODY") or ""
local n = 0

request = function()
  n = n + 1
  local headers = { ["Accept"] = "application/json" }
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[(n - 1) % #tokens + 1]
  end
  local path = paths[(n - 1) % #paths + 1]
  local body = nil
  if body_kind == "reading" then
    headers["Content-Type"] = "application/json"
    body = string.format(
      '{"metric_type": "heart_rate", "value": %d, "recorded_at": "%s"}',
      55 + (n % 60), os.date("!%Y-%m-%dT%H:%M:%SZ")
    )
  end
  return wrk.format(method, path, headers, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
