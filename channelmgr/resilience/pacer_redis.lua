-- GCRA (the generic cell rate algorithm): one grant every `interval`, with a burst of `burst` after a quiet
-- spell. The state is one number, the theoretical arrival time (TAT) of the next grant at the even pace.
--
-- KEYS[1]  the TAT, in microseconds
-- ARGV[1]  "acquire", "wait" or "refund"
-- ARGV[2]  now in microseconds, or "" for the server's clock
-- ARGV[3]  the interval in microseconds
-- ARGV[4]  the tolerance in microseconds: (burst - 1) x interval
--
-- acquire -> {1, 0} or {0, microseconds to wait};  wait -> microseconds to wait;  refund -> 0

-- `now`: see redis_now.lua, prepended.
local interval, tolerance = tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local wait = tat - tolerance - now
if ARGV[1] == 'wait' then
  return math.max(0, wait)
end
local ttl = string.format('%d', math.ceil((tolerance + 2 * interval) / 1000) + 10000)
if ARGV[1] == 'refund' then
  if tat > now then
    redis.call('SET', KEYS[1], string.format('%d', math.max(now, tat - interval)), 'PX', ttl)
  end
  return 0
end
if wait > 0 then
  return {0, wait}
end
redis.call('SET', KEYS[1], string.format('%d', tat + interval), 'PX', ttl)
return {1, 0}
