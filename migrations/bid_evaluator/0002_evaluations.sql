-- One stored evaluation of a work's sealed bids (ARCHITECTURE.md §7).
CREATE TABLE evaluations (
    evaluation_id      TEXT PRIMARY KEY,
    work_id            TEXT NOT NULL,
    consumer_tenant_id TEXT NOT NULL,
    strategy           TEXT NOT NULL,
    total_bids         INTEGER NOT NULL,
    valid_bids         INTEGER NOT NULL,
    ranked             JSONB NOT NULL,
    disqualified       JSONB NOT NULL,
    degraded           TEXT[] NOT NULL DEFAULT '{}',
    weights            JSONB NOT NULL,
    max_price_minor    BIGINT NOT NULL,
    constraints        JSONB NOT NULL DEFAULT '{}',
    auto_award         BOOLEAN NOT NULL DEFAULT false,
    trigger_event_id   TEXT UNIQUE,
    evaluated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Recording order: the latest evaluation of a work is the one with the highest seq.
    seq                BIGINT GENERATED ALWAYS AS IDENTITY
);

CREATE INDEX evaluations_work_idx ON evaluations (work_id, seq DESC);
