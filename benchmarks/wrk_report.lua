-- wrk script shared by benchmarks/web_load.py: optional method, body and headers
-- from the environment, and one JSON line with the figures at the end.
--   WRK_METHOD (GET), WRK_BODY, WRK_AUTH (a bearer token), WRK_FORM_USERS=1: a
--   form body with a different unknown user name on every request.
local method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
local auth = os.getenv("WRK_AUTH")
local form_users = os.getenv("WRK_FORM_USERS") == "1"
local counter = 0

request = function()
  local headers = {}
  if auth then headers["Authorization"] = "Bearer " .. auth end
  if form_users then
    counter = counter + 1
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    local b = "username=nobody" .. counter .. "x" .. math.random(1, 1000000000) ..
              "&password=not-the-password"
    return wrk.format("POST", nil, headers, b)
  end
  if body then headers["Content-Type"] = "application/x-www-form-urlencoded" end
  return wrk.format(method, nil, headers, body)
end

done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"timeouts": %d, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000))
end
