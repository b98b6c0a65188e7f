-- Charges one unverified authentication attempt to each counter, or to none when one has
-- spent its budget. Fixed windows: a counter's first charge starts its window.
-- KEYS[1] the address counter, KEYS[2] (optional) the key-prefix counter;
-- ARGV[1], ARGV[2] their budgets; ARGV[3] the window (ms).
-- Returns {1, address count, address window left (ms)} or {0, refusing counter (1|2), its window left (ms)}.
local window = tonumber(ARGV[3])
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[i]) then
    local left = redis.call('PTTL', key)
    if left < 0 then
      redis.call('PEXPIRE', key, window)
      left = window
    end
    return {0, i, left}
  end
end
local address_count = 0
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then
    redis.call('PEXPIRE', key, window)
  end
  if i == 1 then
    address_count = count
  end
end
return {1, address_count, redis.call('PTTL', KEYS[1])}
