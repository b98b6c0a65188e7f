-- The marketplace: provider profiles, subscriptions, work with its durable bid window, and
-- sealed bids. Money is integer minor units with its currency; never a float.

CREATE TABLE providers (
    id            TEXT        PRIMARY KEY,
    tenant_id     TEXT        NOT NULL,
    name          TEXT        NOT NULL,
    description   TEXT        NOT NULL DEFAULT '',
    endpoint      TEXT        NOT NULL,
    bid_webhook   TEXT,
    capabilities  TEXT[]      NOT NULL DEFAULT '{}',
    contact_email TEXT        NOT NULL,
    metadata      JSONB       NOT NULL DEFAULT '{}',
    status        TEXT        NOT NULL DEFAULT 'ACTIVE' CONSTRAINT providers_status_check CHECK (status IN ('ACTIVE', 'SUSPENDED')),
    -- Set only from certauth's trust records, never from a registration body.
    trust_tier    TEXT        NOT NULL DEFAULT 'BRONZE'
                  CONSTRAINT providers_trust_tier_check CHECK (trust_tier IN ('BRONZE', 'SILVER', 'GOLD', 'PLATINUM')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT providers_tenant_name_key UNIQUE (tenant_id, name)
);

-- A provider name is owned by the first tenant that registers it, platform-wide and
-- case-insensitively, so nobody can register a look-alike of another tenant's agent.
CREATE UNIQUE INDEX providers_name_key ON providers (lower(name));
CREATE INDEX providers_tenant_idx ON providers (tenant_id, created_at);
CREATE INDEX providers_capabilities_idx ON providers USING gin (capabilities);

CREATE TABLE subscriptions (
    id               TEXT        PRIMARY KEY,
    tenant_id        TEXT        NOT NULL,
    provider_id      TEXT        NOT NULL CONSTRAINT subscriptions_provider_fkey REFERENCES providers (id),
    categories       TEXT[]      NOT NULL,
    currency         TEXT        NOT NULL DEFAULT 'USD',
    min_budget_minor BIGINT,
    max_latency_ms   BIGINT,
    regions          TEXT[],
    delivery_method  TEXT        NOT NULL CONSTRAINT subscriptions_delivery_check CHECK (delivery_method IN ('webhook', 'polling')),
    webhook_url      TEXT,
    -- Needed in clear to sign deliveries (HMAC); never returned by the API.
    webhook_secret   TEXT,
    status           TEXT        NOT NULL DEFAULT 'ACTIVE',
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT subscriptions_webhook_check CHECK (delivery_method <> 'webhook' OR webhook_url IS NOT NULL)
);

CREATE INDEX subscriptions_tenant_idx ON subscriptions (tenant_id, created_at);
CREATE INDEX subscriptions_active_idx ON subscriptions (status) WHERE status = 'ACTIVE';

CREATE TABLE work (
    id                  TEXT        PRIMARY KEY,
    tenant_id           TEXT        NOT NULL,
    category            TEXT        NOT NULL,
    description         TEXT        NOT NULL,
    currency            TEXT        NOT NULL,
    max_price_minor     BIGINT      NOT NULL CONSTRAINT work_max_price_check CHECK (max_price_minor > 0),
    bid_strategy        TEXT        NOT NULL,
    max_cpa_bonus_minor BIGINT      CONSTRAINT work_max_cpa_bonus_check CHECK (max_cpa_bonus_minor >= 0),
    constraints         JSONB       NOT NULL DEFAULT '{}',
    max_latency_ms      BIGINT,
    regions             TEXT[],
    success_criteria    JSONB       NOT NULL DEFAULT '[]',
    payload             JSONB       NOT NULL DEFAULT 'null',
    auto_award          BOOLEAN     NOT NULL DEFAULT false,
    bid_window_ms       INTEGER     NOT NULL CONSTRAINT work_bid_window_check CHECK (bid_window_ms BETWEEN 5000 AND 300000),
    status              TEXT        NOT NULL DEFAULT 'OPEN' CONSTRAINT work_status_check
                        CHECK (status IN ('OPEN', 'EVALUATING', 'AWARDED', 'EXECUTING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    bid_window_ends_at  TIMESTAMPTZ NOT NULL,
    providers_notified  INTEGER     NOT NULL DEFAULT 0,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at           TIMESTAMPTZ,
    cancelled_at        TIMESTAMPTZ
);

-- The bid-window closer's queue: open work by deadline.
CREATE INDEX work_open_window_idx ON work (bid_window_ends_at) WHERE status = 'OPEN';
CREATE INDEX work_tenant_idx ON work (tenant_id, created_at DESC);

CREATE TABLE bids (
    id                   TEXT        PRIMARY KEY,
    work_id              TEXT        NOT NULL CONSTRAINT bids_work_fkey REFERENCES work (id),
    provider_id          TEXT        NOT NULL CONSTRAINT bids_provider_fkey REFERENCES providers (id),
    tenant_id            TEXT        NOT NULL,
    currency             TEXT        NOT NULL,
    price_minor          BIGINT      NOT NULL CONSTRAINT bids_price_check CHECK (price_minor > 0),
    price_breakdown      JSONB,
    confidence           DOUBLE PRECISION NOT NULL CONSTRAINT bids_confidence_check CHECK (confidence BETWEEN 0 AND 1),
    approach             TEXT        NOT NULL,
    estimated_latency_ms BIGINT      NOT NULL,
    mvp_sample           JSONB,
    sla                  JSONB       NOT NULL,
    a2a_endpoint         TEXT        NOT NULL,
    expires_at           TIMESTAMPTZ NOT NULL,
    status               TEXT        NOT NULL DEFAULT 'RECEIVED',
    revision             INTEGER     NOT NULL DEFAULT 1,
    received_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- One live bid per provider per work: a re-bid replaces the row.
    CONSTRAINT bids_work_provider_key UNIQUE (work_id, provider_id)
);

CREATE INDEX bids_tenant_idx ON bids (tenant_id, work_id);
