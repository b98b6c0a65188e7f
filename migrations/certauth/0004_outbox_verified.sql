-- Outbox reconciliation: each published row is checked once against its stream (the message at
-- `stream_seq` carries `Nats-Msg-Id = event_id`); a row whose message the stream lost is queued
-- for publishing again. Identical in every schema; crates/common/tests/events checks that.

ALTER TABLE outbox ADD COLUMN verified_at TIMESTAMPTZ;
-- Times the row was queued again; a re-publication uses `Nats-Msg-Id = <event_id>.r<n>`, so the
-- stream's duplicate window does not drop it (consumers deduplicate on the envelope's event_id).
ALTER TABLE outbox ADD COLUMN republished INTEGER NOT NULL DEFAULT 0;

CREATE INDEX outbox_unverified_idx ON outbox (published_at) WHERE published_at IS NOT NULL AND verified_at IS NULL;
