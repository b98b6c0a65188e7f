-- Replaces our in-flight claim with the finished response, kept for the replay period.
-- KEYS[1] the key; ARGV[1] claim token, ARGV[2] status, ARGV[3] headers (JSON), ARGV[4] body,
-- ARGV[5] replay period (ms). Returns 0 when the claim is no longer ours (it expired).
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'done', 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4])
redis.call('HDEL', KEYS[1], 'token')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
