-- Prepended (after redis_now.lua) to limiter_redis.lua and guard_redis.lua: the steps on one account's
-- sliding-window log, a sorted set of grants scored by their time in microseconds, and its pause key.
--
-- A grant at t counts while now < t + span. Times are whole microseconds (16 digits) and are handed to
-- Redis with %d: Lua's own number to string conversion (%.14g) would round them.

local function us(value)
  return string.format('%d', value)
end

-- The end of the log's pause in microseconds, or nil when it is not paused now.
local function paused_until(pause_key)
  local paused = tonumber(redis.call('GET', pause_key))
  if paused and paused <= now then
    return nil
  end
  return paused
end

-- Microseconds until a grant is free with `used` grants counting: the (used - limit + 1)-th oldest grant
-- still counting is the one whose end frees one.
local function log_wait(log_key, used, limit, span)
  if used < limit then
    return 0
  end
  local oldest = redis.call('ZRANGEBYSCORE', log_key, '(' .. us(now - span), '+inf', 'WITHSCORES', 'LIMIT', used - limit, 1)
  return tonumber(oldest[2]) + span - now
end

-- Drop the grants whose span is over; the number still counting.
local function log_used(log_key, span)
  redis.call('ZREMRANGEBYSCORE', log_key, '-inf', us(now - span))
  return redis.call('ZCARD', log_key)
end

local function log_grant(log_key, member, ttl)
  redis.call('ZADD', log_key, us(now), member)
  redis.call('EXPIRE', log_key, ttl)
end
