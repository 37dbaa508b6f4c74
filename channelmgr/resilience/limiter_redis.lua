-- The sliding-window log of one rate-limited account: one atomic step per call, whatever the limit.
--
-- KEYS[1]  the log: a sorted set of grants, scored by their time in microseconds
-- KEYS[2]  the pause: the time in microseconds before which nothing is granted
-- ARGV[1]  "acquire", "state" or "pause"
-- ARGV[2]  now in microseconds, or "" for the server's clock (one clock for every process)
-- ARGV[3]  the limit
-- ARGV[4]  the span a grant counts for (window + margin), in microseconds
-- ARGV[5]  the log's TTL in seconds
-- ARGV[6]  acquire: the grant's member (random, unique); pause: the pause in microseconds
--
-- acquire -> {1, 0, grants in the span}  or  {0, microseconds to wait, grants in the span}
-- state   -> {microseconds to wait, grants in (now - span, now]}
-- pause   -> the end of the pause in microseconds

-- `now`: see redis_now.lua; us, paused_until, log_wait, log_used, log_grant: see window_log.lua.
local limit, span = tonumber(ARGV[3]), tonumber(ARGV[4])

if ARGV[1] == 'pause' then
  local pause = tonumber(ARGV[6])
  redis.call('SET', KEYS[2], us(now + pause), 'PX', us(math.ceil(pause / 1000) + 10000))
  return now + pause
end

local paused = paused_until(KEYS[2])

if ARGV[1] == 'state' then
  local used = redis.call('ZCOUNT', KEYS[1], '(' .. us(now - span), '+inf')
  local in_window = redis.call('ZCOUNT', KEYS[1], '(' .. us(now - span), us(now))
  local until_free = log_wait(KEYS[1], used, limit, span)
  if paused then
    until_free = math.max(until_free, paused - now)
  end
  return {until_free, in_window}
end

local used = log_used(KEYS[1], span)
if paused then
  return {0, paused - now, used}
end
if used >= limit then
  return {0, log_wait(KEYS[1], used, limit, span), used}
end
log_grant(KEYS[1], ARGV[6], ARGV[5])
return {1, 0, used + 1}
