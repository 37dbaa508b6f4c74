-- Prepended to limiter_redis.lua and pacer_redis.lua: `now` in microseconds, from ARGV[2], or from the
-- server's clock when ARGV[2] is "" (one clock for every process, whatever their machines' clocks say).
local now = tonumber(ARGV[2])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end
