-- GCRA over one or more buckets in one atomic step (the same decision as
-- src/domain/ratelimit.rs `gcra`): a request is admitted only if every bucket admits it, and
-- only then are the buckets charged. Time comes from the Redis clock, so replicas with skewed
-- clocks still share one exact budget. An admitted request may also claim its idempotency key
-- in the same step (the same logic as idempotency/claim.lua), saving a round trip.
--
-- KEYS[1]      the store's first-seen time (µs); absent on a fresh or emptied Redis
-- KEYS[2..n+1] one bucket per key, holding its theoretical arrival time (µs)
-- KEYS[n+2]    optional: the idempotency key to claim if the request is admitted
-- ARGV[1]      cold-start window (µs): while it lasts every quota is halved
-- ARGV[2]      n, the number of buckets
-- ARGV[2i+1,2i+2] per bucket i: requests per minute, burst
-- ARGV[2n+3..2n+5] with a claim: claim token, request fingerprint, claim lifetime (ms)
-- Returns {allowed, cold, then per bucket: capacity, remaining, reset µs, retry-after µs},
-- then with a claim on an admitted request: {'claimed'} or {state, fingerprint, status,
-- headers, body} of what the key already holds.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local first = tonumber(redis.call('GET', KEYS[1]))
if not first then
  redis.call('SET', KEYS[1], string.format('%d', now), 'NX')
  first = now
end
local cold = (now - first) < tonumber(ARGV[1])

local allowed = 1
local out = {}
local charges = {}
local buckets = tonumber(ARGV[2])
for i = 1, buckets do
  local per_minute = math.max(1, tonumber(ARGV[2 * i + 1]))
  local burst = tonumber(ARGV[2 * i + 2])
  if cold then
    per_minute = math.max(1, math.floor(per_minute / 2))
    burst = math.floor(burst / 2)
  end
  local interval = math.ceil(60000000 / per_minute)
  local capacity = per_minute + burst
  local tolerance = capacity * interval
  local tat = tonumber(redis.call('GET', KEYS[i + 1])) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  local ahead = new_tat - now
  if ahead > tolerance then
    allowed = 0
    table.insert(out, capacity)
    table.insert(out, 0)
    table.insert(out, tat - now)
    table.insert(out, ahead - tolerance)
  else
    charges[i] = new_tat
    table.insert(out, capacity)
    table.insert(out, math.floor((tolerance - ahead) / interval))
    table.insert(out, ahead)
    table.insert(out, 0)
  end
end

if allowed == 1 then
  for i = 1, buckets do
    local ttl_ms = math.ceil((charges[i] - now) / 1000) + 1000
    redis.call('SET', KEYS[i + 1], string.format('%d', charges[i]), 'PX', string.format('%d', ttl_ms))
  end
end

local reply = {allowed, cold and 1 or 0}
for _, value in ipairs(out) do
  table.insert(reply, value)
end
local claim = KEYS[buckets + 2]
if allowed == 1 and claim then
  local token, fingerprint, lifetime = ARGV[2 * buckets + 3], ARGV[2 * buckets + 4], ARGV[2 * buckets + 5]
  local held = redis.call('HMGET', claim, 'state', 'fingerprint', 'status', 'headers', 'body')
  if held[1] then
    for i = 1, 5 do
      table.insert(reply, held[i] or '')
    end
  else
    redis.call('HSET', claim, 'state', 'in_flight', 'fingerprint', fingerprint, 'token', token)
    redis.call('PEXPIRE', claim, lifetime)
    table.insert(reply, 'claimed')
  end
end
return reply
