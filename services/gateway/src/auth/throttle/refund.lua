-- Gives back one charge of each counter (the credential was good); the window is kept.
-- KEYS the counters charged.
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then
    redis.call('DECR', key)
  end
end
return 1
