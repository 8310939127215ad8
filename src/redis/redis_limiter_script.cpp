// The shared limiter's Lua script (see redis_limiter.cpp), run with EVAL.
// Kept in one place so the tests run exactly what the limiter runs.
#include "redis_limiter_script.hpp"

namespace cbs::detail {

const char* const shared_limiter_script = R"lua(
-- The shared limiter's one script: GCRA over the server's clock, with the
-- throttle feedback (multiplicative decrease, CUBIC recovery) kept in Redis.
-- KEYS[1]  the state of one (account, region, action): a hash of
--          tat (next free slot), wmax (rate before the last decrease),
--          dec (time of the last decrease), rec (end of a recovery hold);
--          all times in microseconds of the server's clock.
-- ARGV[1]  "acquire" or "throttle"
-- ARGV[2]  ceiling: sends per second never exceeded
-- ARGV[3]  min_rate: floor of the adaptive rate
-- ARGV[4]  beta: multiplicative decrease on a throttle
-- ARGV[5]  recovery (us): the CUBIC curve is back at wmax after this
-- ARGV[6]  holdoff (us): throttles this soon after a decrease are the same event
-- ARGV[7]  max_wait (us): acquire reserves a slot only this close
-- ARGV[8]  back: 1 when the caller comes back after losing Redis
-- ARGV[9]  sent: the caller's sends of the last second that this state has not seen
-- ARGV[10] hold_rate: the pace while others may still be on their fallback
-- ARGV[11] hold (us): how long that lasts after a caller comes back
-- ARGV[12] ttl (ms) of the state
-- ARGV[13] now (us), tests only; "" = the server's TIME
-- Returns {granted (0/1), wait (us), rate (milli sends/s), holding (0/1)}.
local now
if ARGV[13] ~= nil and ARGV[13] ~= '' then
  now = tonumber(ARGV[13])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local ceiling = tonumber(ARGV[2])
local min_rate = math.min(tonumber(ARGV[3]), ceiling)
local beta = tonumber(ARGV[4])
local recovery = tonumber(ARGV[5])
local s = redis.call('HMGET', KEYS[1], 'tat', 'wmax', 'dec', 'rec')
local fresh = s[1] == false
local tat = tonumber(s[1]) or now
local wmax = tonumber(s[2]) or ceiling
local dec = tonumber(s[3]) or 0
local rec = tonumber(s[4]) or 0

-- The adaptive rate at `now`: CUBIC from beta * wmax back to wmax after
-- `recovery`, then on up to the ceiling.
local rate = ceiling
if dec > 0 then
  local x = (now - dec - recovery) / recovery
  rate = math.max(min_rate, math.min(ceiling, wmax * (1 + (1 - beta) * x * x * x)))
end
local function interval(r) return math.ceil(1000000 / r) end

if ARGV[1] == 'throttle' then
  if dec == 0 or now - dec >= tonumber(ARGV[6]) then
    redis.call('HSET', KEYS[1], 'tat', tat, 'wmax', rate, 'dec', now, 'rec', rec)
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[12]))
    rate = math.max(min_rate, rate * beta)
  end
  return {0, 0, math.floor(rate * 1000), 0}
end

if ARGV[8] == '1' then
  -- Back after a loss: others may still send on their fallback for `hold`,
  -- so the shared pace drops to what the fallbacks leave. A state that is gone
  -- (Redis restarted) also lost the slots it had handed out, which run at most
  -- max_wait ahead: treat them as taken.
  rec = math.max(rec, now + tonumber(ARGV[11]))
  if fresh then tat = now + tonumber(ARGV[7]) end
end
if now < rec then rate = math.min(rate, tonumber(ARGV[10])) end
local t_int = interval(rate)
if ARGV[8] == '1' then
  -- The caller's own sends while away count against the schedule.
  tat = math.max(tat, now) + tonumber(ARGV[9]) * t_int
end
local slot = math.max(tat, now)
local wait = slot - now
local granted = 0
if wait <= tonumber(ARGV[7]) then
  granted = 1
  tat = slot + t_int
end
if granted == 1 or ARGV[8] == '1' then
  redis.call('HSET', KEYS[1], 'tat', tat, 'wmax', wmax, 'dec', dec, 'rec', rec)
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[12]))
end
return {granted, wait, math.floor(rate * 1000), (now < rec) and 1 or 0}
)lua";

}  // namespace cbs::detail
