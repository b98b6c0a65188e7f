-- Claims an idempotency key, or returns what it holds. One round trip, atomic.
-- KEYS[1] the key; ARGV[1] claim token, ARGV[2] request fingerprint, ARGV[3] claim lifetime (ms)
-- Returns {'claimed'} or {state, fingerprint, status, headers, body}.
local held = redis.call('HMGET', KEYS[1], 'state', 'fingerprint', 'status', 'headers', 'body')
if held[1] then
  return {held[1], held[2] or '', held[3] or '', held[4] or '', held[5] or ''}
end
redis.call('HSET', KEYS[1], 'state', 'in_flight', 'fingerprint', ARGV[2], 'token', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'claimed'}
