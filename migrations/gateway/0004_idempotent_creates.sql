-- The authoritative record of the gateway's own creates (`POST /v1/tenants`,
-- `POST /v1/tenants/{id}/api-keys`) under an `Idempotency-Key`. It is claimed in the same
-- transaction that creates the tenant or key, so concurrent requests with the same key wait on
-- its primary key and find the first one's result; a Redis replay cache could lose it, and the
-- first answer holds a secret that must never be stored anywhere.

CREATE TABLE idempotent_creates (
    -- The caller's tenant: keys are namespaced by who sent them.
    caller_tenant_id  TEXT        NOT NULL,
    -- SHA-256 of method, route pattern, concrete path and the client's key.
    scope             TEXT        NOT NULL,
    route             TEXT        NOT NULL,
    -- SHA-256 of the request; the same key with another request is refused.
    fingerprint       TEXT        NOT NULL,
    -- What the first request created (set before its transaction commits).
    tenant_id         TEXT,
    api_key_id        TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT idempotent_creates_pkey PRIMARY KEY (caller_tenant_id, scope)
);
