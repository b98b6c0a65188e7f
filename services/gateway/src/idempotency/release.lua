-- Drops our in-flight claim (the request failed), so the client may try again.
-- KEYS[1] the key; ARGV[1] claim token. Returns 1 when dropped.
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
