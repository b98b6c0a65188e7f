-- Trust and reputation: the evidence (one row per contract outcome) and one reputation
-- snapshot per provider, recomputed on every outcome, settlement and certificate change.

-- Exactly one row per contract: the first outcome event recorded wins; a settlement adds the
-- settled price to it (or creates the row as a success when it arrives first).
CREATE TABLE provider_outcomes (
    contract_id        TEXT        NOT NULL CONSTRAINT provider_outcomes_pkey PRIMARY KEY,
    provider_id        TEXT        NOT NULL,
    provider_tenant_id TEXT        NOT NULL,
    consumer_tenant_id TEXT        NOT NULL,
    success            BOOLEAN     NOT NULL,
    price_minor        BIGINT      CONSTRAINT provider_outcomes_price_check CHECK (price_minor IS NULL OR price_minor >= 0),
    currency           TEXT,
    occurred_at        TIMESTAMPTZ NOT NULL,
    settled_at         TIMESTAMPTZ,
    recorded_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX provider_outcomes_provider_idx ON provider_outcomes (provider_id, occurred_at DESC);

CREATE TABLE reputation_snapshots (
    provider_id            TEXT             NOT NULL CONSTRAINT reputation_snapshots_pkey PRIMARY KEY,
    provider_tenant_id     TEXT,
    score                  DOUBLE PRECISION NOT NULL CONSTRAINT reputation_snapshots_score_check CHECK (score >= 0 AND score <= 1),
    trust_score            DOUBLE PRECISION NOT NULL,
    transaction_score      DOUBLE PRECISION NOT NULL,
    success_rate           DOUBLE PRECISION NOT NULL,
    volume                 DOUBLE PRECISION NOT NULL,
    consistency            DOUBLE PRECISION NOT NULL,
    certification          DOUBLE PRECISION NOT NULL,
    tier                   TEXT             NOT NULL CONSTRAINT reputation_snapshots_tier_check
                                            CHECK (tier IN ('BRONZE', 'SILVER', 'GOLD', 'PLATINUM')),
    flags                  TEXT[]           NOT NULL DEFAULT '{}',
    contracts              INTEGER          NOT NULL,
    successes              INTEGER          NOT NULL,
    -- Distinct {category, capability} pairs of the provider's valid certificates at recompute.
    certified_capabilities JSONB            NOT NULL DEFAULT '[]',
    -- When the first of those certificates expires: the snapshot is recomputed then, so an
    -- expired certificate's boost does not outlive it.
    certification_expires_at TIMESTAMPTZ,
    updated_at             TIMESTAMPTZ      NOT NULL DEFAULT now()
);

-- Snapshots due for a refresh: a certificate expired, or a day of trust decay passed.
CREATE INDEX reputation_snapshots_expiry_idx ON reputation_snapshots (certification_expires_at)
    WHERE certification_expires_at IS NOT NULL;
CREATE INDEX reputation_snapshots_updated_idx ON reputation_snapshots (updated_at) WHERE contracts > 0;

-- The leaderboard order.
CREATE INDEX reputation_snapshots_leaderboard_idx ON reputation_snapshots (score DESC, contracts DESC, provider_id);
