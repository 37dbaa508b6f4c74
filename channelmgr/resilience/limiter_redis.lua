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
--
-- A grant at t counts while now < t + span. Times are whole microseconds (16 digits) and are handed to
-- Redis with %d: Lua's own number to string conversion (%.14g) would round them.

-- `now`: see redis_now.lua, prepended.
local limit, span = tonumber(ARGV[3]), tonumber(ARGV[4])

local function us(value)
  return string.format('%d', value)
end

if ARGV[1] == 'pause' then
  local pause = tonumber(ARGV[6])
  redis.call('SET', KEYS[2], us(now + pause), 'PX', us(math.ceil(pause / 1000) + 10000))
  return now + pause
end

local paused = tonumber(redis.call('GET', KEYS[2]))
if paused and paused <= now then
  paused = nil
end

-- The (used - limit + 1)-th oldest grant still counting is the one whose end frees a grant.
local function wait(used)
  if used < limit then
    return 0
  end
  local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. us(now - span), '+inf', 'WITHSCORES', 'LIMIT', used - limit, 1)
  return tonumber(oldest[2]) + span - now
end

if ARGV[1] == 'state' then
  local used = redis.call('ZCOUNT', KEYS[1], '(' .. us(now - span), '+inf')
  local in_window = redis.call('ZCOUNT', KEYS[1], '(' .. us(now - span), us(now))
  local until_free = wait(used)
  if paused then
    until_free = math.max(until_free, paused - now)
  end
  return {until_free, in_window}
end

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', us(now - span))
local used = redis.call('ZCARD', KEYS[1])
if paused then
  return {0, paused - now, used}
end
if used >= limit then
  return {0, wait(used), used}
end
redis.call('ZADD', KEYS[1], us(now), ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, 0, used + 1}
