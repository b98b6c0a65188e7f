-- Tenants and their API keys. Keys are stored only as the SHA-256 of the plaintext (hex);
-- the plaintext is shown once at creation. Every change that must take effect on every gateway
-- replica at once (revocation, rotation, suspension) sends NOTIFY aex_gateway_credentials in
-- the same transaction (see src/auth/listener.rs).

CREATE TABLE tenants (
    id                          TEXT        PRIMARY KEY,
    name                        TEXT        NOT NULL,
    tenant_type                 TEXT        NOT NULL
        CONSTRAINT tenants_tenant_type_check CHECK (tenant_type IN ('REQUESTOR', 'PROVIDER', 'BOTH')),
    status                      TEXT        NOT NULL DEFAULT 'ACTIVE'
        CONSTRAINT tenants_status_check CHECK (status IN ('ACTIVE', 'SUSPENDED')),
    contact_email               TEXT,
    billing_email               TEXT,
    metadata                    JSONB       NOT NULL DEFAULT '{}'::jsonb,
    -- The platform operator's own tenant; at most one exists (bootstrap relies on it).
    is_operator                 BOOLEAN     NOT NULL DEFAULT false,
    -- Per-tenant rate-limit overrides; NULL means the gateway's defaults.
    rate_limit_per_minute       INTEGER     CONSTRAINT tenants_rate_limit_positive CHECK (rate_limit_per_minute > 0),
    rate_limit_burst            INTEGER     CONSTRAINT tenants_rate_limit_burst_nonneg CHECK (rate_limit_burst >= 0),
    money_rate_limit_per_minute INTEGER     CONSTRAINT tenants_money_rate_limit_positive CHECK (money_rate_limit_per_minute > 0),
    status_reason               TEXT,
    created_at                  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX tenants_single_operator_key ON tenants (is_operator) WHERE is_operator;

CREATE TABLE api_keys (
    id           TEXT        PRIMARY KEY,
    tenant_id    TEXT        NOT NULL CONSTRAINT api_keys_tenant_id_fkey REFERENCES tenants (id),
    name         TEXT        NOT NULL,
    key_hash     TEXT        NOT NULL CONSTRAINT api_keys_key_hash_key UNIQUE,
    prefix       TEXT        NOT NULL,
    scopes       TEXT[]      NOT NULL,
    status       TEXT        NOT NULL DEFAULT 'ACTIVE'
        CONSTRAINT api_keys_status_check CHECK (status IN ('ACTIVE', 'REVOKED')),
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    -- Rotation: the new key names the key it replaced; the old key stays valid until grace_until.
    rotated_from TEXT        CONSTRAINT api_keys_rotated_from_fkey REFERENCES api_keys (id),
    grace_until  TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX api_keys_tenant_id_idx ON api_keys (tenant_id, created_at, id);
