-- Transactional outbox and consumer inbox. Every AEX schema starts with this same migration;
-- crates/common/tests/events.rs checks that all copies are identical.

CREATE TABLE outbox (
    id               BIGSERIAL PRIMARY KEY,
    event_id         TEXT        NOT NULL CONSTRAINT outbox_event_id_key UNIQUE,
    subject          TEXT        NOT NULL,
    payload          BYTEA       NOT NULL,
    traceparent      TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Relay lease: a relay holds the rows it claimed until claim_expires_at.
    claim_token      TEXT,
    claim_expires_at TIMESTAMPTZ,
    attempts         INTEGER     NOT NULL DEFAULT 0,
    last_error       TEXT,
    published_at     TIMESTAMPTZ,
    stream_seq       BIGINT
);

CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Wake the relay as soon as an event commits (NOTIFY is delivered at commit).
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('aex_outbox_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

CREATE TABLE inbox (
    consumer     TEXT        NOT NULL,
    event_id     TEXT        NOT NULL,
    subject      TEXT        NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT inbox_pkey PRIMARY KEY (consumer, event_id)
);
