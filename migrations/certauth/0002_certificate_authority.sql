-- The certificate authority: versioned CA keys, certificate requests, certificates and CRLs.

-- One row per CA key version. The private key is stored sealed: AES-256-GCM under the
-- key-encryption key from the environment (AEX_CA_KEK), or, in development only, in plaintext
-- marked 'development-plaintext' so it is never mistaken for a protected key.
CREATE TABLE ca_keys (
    version            INTEGER     NOT NULL CONSTRAINT ca_keys_pkey PRIMARY KEY CONSTRAINT ca_keys_version_check CHECK (version > 0),
    status             TEXT        NOT NULL CONSTRAINT ca_keys_status_check CHECK (status IN ('active', 'retired', 'revoked')),
    key_protection     TEXT        NOT NULL CONSTRAINT ca_keys_protection_check CHECK (key_protection IN ('aes-256-gcm', 'development-plaintext')),
    sealed_private_key BYTEA       NOT NULL,
    public_key_pem     TEXT        NOT NULL,
    certificate_pem    TEXT        NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    retired_at         TIMESTAMPTZ,
    revoked_at         TIMESTAMPTZ
);

-- Exactly one version signs at a time, whatever rotations run concurrently.
CREATE UNIQUE INDEX ca_keys_one_active_idx ON ca_keys ((true)) WHERE status = 'active';

-- The first tenant to request a certificate for a provider id owns it (provider profiles live
-- in work-publisher; until certauth can ask it, this is the ownership record).
CREATE TABLE provider_owners (
    provider_id TEXT        NOT NULL CONSTRAINT provider_owners_pkey PRIMARY KEY,
    tenant_id   TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE certificate_requests (
    id               TEXT        NOT NULL CONSTRAINT certificate_requests_pkey PRIMARY KEY,
    tenant_id        TEXT        NOT NULL,
    provider_id      TEXT        NOT NULL,
    agent_name       TEXT        NOT NULL,
    certificate_type TEXT        NOT NULL CONSTRAINT certificate_requests_type_check
                                 CHECK (certificate_type IN ('CAPABILITY', 'IDENTITY', 'REPUTATION', 'RESELLER')),
    claims           JSONB       NOT NULL,
    -- The agent's key as SubjectPublicKeyInfo PEM, whether it came bare or inside a CSR.
    public_key_pem   TEXT        NOT NULL,
    csr_pem          TEXT,
    status           TEXT        NOT NULL CONSTRAINT certificate_requests_status_check
                                 CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED')),
    certificate_id   TEXT,
    decision_reason  TEXT,
    decided_at       TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX certificate_requests_provider_idx ON certificate_requests (provider_id);

CREATE TABLE certificates (
    id                 TEXT        NOT NULL CONSTRAINT certificates_pkey PRIMARY KEY,
    -- One certificate per approved request; renewals have no request.
    request_id         TEXT        CONSTRAINT certificates_request_id_key UNIQUE
                                   CONSTRAINT certificates_request_id_fkey REFERENCES certificate_requests (id),
    tenant_id          TEXT        NOT NULL,
    provider_id        TEXT        NOT NULL,
    agent_name         TEXT        NOT NULL,
    certificate_type   TEXT        NOT NULL,
    claims             JSONB       NOT NULL,
    public_key_pem     TEXT        NOT NULL,
    serial             TEXT        NOT NULL CONSTRAINT certificates_serial_key UNIQUE,
    key_version        INTEGER     NOT NULL CONSTRAINT certificates_key_version_fkey REFERENCES ca_keys (version),
    not_before         TIMESTAMPTZ NOT NULL,
    not_after          TIMESTAMPTZ NOT NULL,
    status             TEXT        NOT NULL CONSTRAINT certificates_status_check
                                   CHECK (status IN ('ACTIVE', 'REVOKED', 'SUPERSEDED', 'SUSPENDED')),
    -- The signed credential exactly as signed (canonical JSON), its signature and fingerprint.
    credential         TEXT        NOT NULL,
    signature          TEXT        NOT NULL,
    fingerprint        TEXT        NOT NULL,
    x509_pem           TEXT        NOT NULL,
    -- A certificate is renewed at most once.
    previous_cert_id   TEXT        CONSTRAINT certificates_previous_cert_id_key UNIQUE
                                   CONSTRAINT certificates_previous_cert_id_fkey REFERENCES certificates (id),
    renewal_count      INTEGER     NOT NULL DEFAULT 0,
    revoked_at         TIMESTAMPTZ,
    revocation_reason  TEXT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX certificates_provider_idx ON certificates (provider_id, created_at);
CREATE INDEX certificates_tenant_idx ON certificates (tenant_id, created_at);
CREATE INDEX certificates_revoked_idx ON certificates (revoked_at) WHERE status = 'REVOKED';

-- Every CRL ever published; the highest number is the current one. Regenerated in the same
-- transaction as each revocation (and each key rotation or key revocation).
CREATE TABLE crls (
    crl_number  BIGINT      NOT NULL CONSTRAINT crls_pkey PRIMARY KEY,
    key_version INTEGER     NOT NULL CONSTRAINT crls_key_version_fkey REFERENCES ca_keys (version),
    this_update TIMESTAMPTZ NOT NULL,
    next_update TIMESTAMPTZ NOT NULL,
    entries     JSONB       NOT NULL,
    -- The canonical JSON that was signed, its signature (base64 DER) and the X.509 CRL.
    signed_json TEXT        NOT NULL,
    signature   TEXT        NOT NULL,
    der         BYTEA       NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
