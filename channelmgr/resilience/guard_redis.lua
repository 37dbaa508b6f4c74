-- One guarded request's admission in one step: the platform's breaker is closed and every limiter the
-- request draws on (its purpose's share of the account, the account) has room; then one grant in each,
-- or none at all.
--
-- KEYS[1], KEYS[2]            the breaker's "opened" and "failures" (Django cache keys; see breaker.py)
-- KEYS[2i+1], KEYS[2i+2]      limiter i's log and pause (i = 1..n; see window_log.lua)
-- ARGV[1]                     the grant's member (random, unique)
-- ARGV[2]                     now in microseconds, or "" for the server's clock
-- ARGV[3i], ARGV[3i+1], ARGV[3i+2]   limiter i's limit, span in microseconds and TTL in seconds
--
-- -> {-1}                             the breaker is open or half-open: nothing granted
-- -> {0, i, microseconds to wait}     limiter i is full or paused: nothing granted
-- -> {1, failures, used_1, ..., used_n}

-- `now`: see redis_now.lua; paused_until, log_wait, log_used, log_grant: see window_log.lua.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {-1}
end
local n = (#KEYS - 2) / 2
local used = {}
for i = 1, n do
  local log_key, pause_key = KEYS[2 * i + 1], KEYS[2 * i + 2]
  local limit, span = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  used[i] = log_used(log_key, span)
  local paused = paused_until(pause_key)
  if paused then
    -- As the limiter's own wait: the end of the pause, or later if the window is full then too.
    return {0, i, math.max(paused - now, log_wait(log_key, used[i], limit, span))}
  end
  if used[i] >= limit then
    return {0, i, log_wait(log_key, used[i], limit, span)}
  end
end
local reply = {1, tonumber(redis.call('GET', KEYS[2])) or 0}
for i = 1, n do
  log_grant(KEYS[2 * i + 1], ARGV[1], ARGV[3 * i + 2])
  reply[i + 2] = used[i] + 1
end
return reply
