-- Periodic signatures of the journal head: anyone with the receipt public key can check that
-- the chain up to `seq` ended in `hash` when it was signed, so even a rewrite of the whole
-- chain is detectable.

CREATE TABLE journal_head_signatures (
    seq         BIGINT      PRIMARY KEY,
    hash        BYTEA       NOT NULL,
    body        TEXT        NOT NULL,
    signature   TEXT        NOT NULL,
    key_version INTEGER     NOT NULL REFERENCES signing_keys (version),
    signed_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
