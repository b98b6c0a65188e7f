-- Signed settlement receipts and the key that signs them.

CREATE TABLE signing_keys (
    version            INTEGER     PRIMARY KEY,
    public_key_pem     TEXT        NOT NULL,
    -- The private scalar, sealed by aex_common::keywrap (see key_protection).
    sealed_private_key BYTEA       NOT NULL,
    key_protection     TEXT        NOT NULL CHECK (key_protection IN ('aes-256-gcm', 'development-plaintext')),
    status             TEXT        NOT NULL CHECK (status IN ('active', 'retired')),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX signing_keys_one_active_idx ON signing_keys ((status)) WHERE status = 'active';

-- One receipt per settled contract, written once and never changed.
CREATE TABLE receipts (
    contract_id TEXT        PRIMARY KEY,
    -- The canonical JSON that was signed.
    body        TEXT        NOT NULL,
    signature   TEXT        NOT NULL,
    key_version INTEGER     NOT NULL REFERENCES signing_keys (version),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
