-- Awards and contracts: the evaluator's latest ranking per work, and the one contract per work
-- with its lifecycle. An award is written in two steps around settlement's escrow hold (PENDING,
-- then AWARDED, or ABORTED when the hold was refused or its outcome is unknown), so a database
-- transaction is never held open across a network call.

CREATE TABLE evaluations (
    work_id       TEXT        PRIMARY KEY CONSTRAINT evaluations_work_fkey REFERENCES work (id),
    evaluation_id TEXT        NOT NULL,
    strategy      TEXT        NOT NULL,
    -- Best first: [{rank, bid_id, provider_id, price_minor, total_score}].
    ranking       JSONB       NOT NULL,
    degraded      TEXT[]      NOT NULL DEFAULT '{}',
    evaluated_at  TIMESTAMPTZ NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE contracts (
    id                 TEXT        PRIMARY KEY,
    work_id            TEXT        NOT NULL CONSTRAINT contracts_work_fkey REFERENCES work (id),
    bid_id             TEXT        NOT NULL CONSTRAINT contracts_bid_fkey REFERENCES bids (id),
    consumer_tenant_id TEXT        NOT NULL,
    provider_tenant_id TEXT        NOT NULL,
    provider_id        TEXT        NOT NULL CONSTRAINT contracts_provider_fkey REFERENCES providers (id),
    category           TEXT        NOT NULL,
    currency           TEXT        NOT NULL,
    agreed_price_minor BIGINT      NOT NULL CONSTRAINT contracts_price_check CHECK (agreed_price_minor > 0),
    provider_endpoint  TEXT        NOT NULL,
    status             TEXT        NOT NULL DEFAULT 'PENDING' CONSTRAINT contracts_status_check
                       CHECK (status IN ('PENDING', 'AWARDED', 'EXECUTING', 'COMPLETED', 'FAILED', 'EXPIRED',
                                         'DISPUTED', 'ABORTED')),
    -- `consumer` (POST /v1/work/{id}/award) or `auto` (bids.evaluated with auto_award).
    awarded_by         TEXT        NOT NULL CONSTRAINT contracts_awarded_by_check CHECK (awarded_by IN ('consumer', 'auto')),
    progress_percent   SMALLINT    CONSTRAINT contracts_progress_check CHECK (progress_percent BETWEEN 0 AND 100),
    progress_status    TEXT,
    progress_message   TEXT,
    result_summary     TEXT,
    result_location    TEXT,
    metrics            JSONB,
    failure_reason     TEXT,
    failure_message    TEXT,
    failed_by          TEXT,
    -- ABORTED only: why, and whether settlement confirmed no hold is left behind.
    abort_reason       TEXT,
    hold_settled       BOOLEAN     NOT NULL DEFAULT false,
    expires_at         TIMESTAMPTZ NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    awarded_at         TIMESTAMPTZ,
    started_at         TIMESTAMPTZ,
    completed_at       TIMESTAMPTZ,
    failed_at          TIMESTAMPTZ,
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Exactly one contract per work; an aborted award leaves room for the next attempt.
CREATE UNIQUE INDEX contracts_one_per_work ON contracts (work_id) WHERE status <> 'ABORTED';
-- The expiry timer's queue.
CREATE INDEX contracts_expiry_idx ON contracts (expires_at) WHERE status IN ('AWARDED', 'EXECUTING');
-- The award reconciler's queue: awards interrupted between their two steps.
CREATE INDEX contracts_unresolved_idx ON contracts (created_at)
    WHERE status = 'PENDING' OR (status = 'ABORTED' AND NOT hold_settled);
CREATE INDEX contracts_consumer_idx ON contracts (consumer_tenant_id, created_at DESC);
CREATE INDEX contracts_provider_idx ON contracts (provider_tenant_id, created_at DESC);

-- Provider notifications by webhook: one delivery per (work, subscription), each attempt recorded.
CREATE TABLE webhook_deliveries (
    id              TEXT        PRIMARY KEY,
    event_id        TEXT        NOT NULL,
    event_type      TEXT        NOT NULL,
    subscription_id TEXT        NOT NULL CONSTRAINT webhook_deliveries_subscription_fkey REFERENCES subscriptions (id),
    provider_id     TEXT        NOT NULL,
    work_id         TEXT        NOT NULL CONSTRAINT webhook_deliveries_work_fkey REFERENCES work (id),
    url             TEXT        NOT NULL,
    payload         JSONB       NOT NULL,
    status          TEXT        NOT NULL DEFAULT 'PENDING'
                    CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A dispatcher's claim: another replica skips the row until the lease ends.
    leased_until    TIMESTAMPTZ,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at    TIMESTAMPTZ,
    CONSTRAINT webhook_deliveries_once UNIQUE (event_id, subscription_id)
);

CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_provider_idx ON webhook_deliveries (provider_id, created_at DESC);

CREATE TABLE webhook_attempts (
    delivery_id TEXT        NOT NULL CONSTRAINT webhook_attempts_delivery_fkey REFERENCES webhook_deliveries (id),
    attempt     INTEGER     NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    duration_ms INTEGER     NOT NULL,
    status_code INTEGER,
    error       TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

-- A2A agent cards of providers, and the skill index searched by `skill_tags`.
CREATE TABLE agent_cards (
    provider_id TEXT        PRIMARY KEY CONSTRAINT agent_cards_provider_fkey REFERENCES providers (id),
    card        JSONB       NOT NULL,
    skill_tags  TEXT[]      NOT NULL DEFAULT '{}',
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX agent_cards_skill_tags_idx ON agent_cards USING gin (skill_tags);
