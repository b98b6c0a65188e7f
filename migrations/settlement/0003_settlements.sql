-- Contract escrow: one row per contract, from the hold at award to payout or release.

CREATE TABLE settlements (
    contract_id          TEXT        PRIMARY KEY,
    work_id              TEXT,
    category             TEXT,
    consumer_tenant_id   TEXT        NOT NULL,
    provider_tenant_id   TEXT        NOT NULL,
    provider_id          TEXT        NOT NULL,
    currency             TEXT        NOT NULL,
    price_minor          BIGINT      NOT NULL CHECK (price_minor > 0),
    hold_transfer_id     TEXT        NOT NULL CONSTRAINT settlements_hold_transfer_key UNIQUE,
    status               TEXT        NOT NULL CONSTRAINT settlements_status_check
                             CHECK (status IN ('HELD', 'SETTLED', 'RELEASED')),
    fee_policy_version   TEXT,
    tier                 TEXT,
    volume_30d_minor     BIGINT,
    platform_fee_minor   BIGINT      CHECK (platform_fee_minor >= 0),
    protocol_fee_minor   BIGINT      CHECK (protocol_fee_minor >= 0),
    payout_minor         BIGINT      CHECK (payout_minor >= 0),
    journal_seq          BIGINT,
    release_reason       TEXT,
    held_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    settled_at           TIMESTAMPTZ,
    released_at          TIMESTAMPTZ,
    -- A settled contract's parts always sum to its price.
    CONSTRAINT settlements_split_sums CHECK (
        status <> 'SETTLED'
        OR platform_fee_minor::numeric + protocol_fee_minor::numeric + payout_minor::numeric = price_minor::numeric)
);

-- The provider's rolling 30-day settled volume decides its protocol-fee tier.
CREATE INDEX settlements_provider_volume_idx ON settlements (provider_id, settled_at) WHERE status = 'SETTLED';
CREATE INDEX settlements_consumer_idx ON settlements (consumer_tenant_id);
CREATE INDEX settlements_provider_tenant_idx ON settlements (provider_tenant_id);
