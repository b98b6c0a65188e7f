-- The double-entry ledger: accounts with running totals, immutable transfers, and the
-- hash-chained journal. Amounts are BIGINT minor units; no floating point anywhere.

CREATE TABLE accounts (
    id              TEXT        PRIMARY KEY,
    -- 'tenant' accounts belong to a tenant; the others are the platform's, one per currency.
    kind            TEXT        NOT NULL CONSTRAINT accounts_kind_check
                        CHECK (kind IN ('tenant', 'external_funding', 'platform_revenue', 'protocol_fees', 'escrow')),
    tenant_id       TEXT,
    currency        TEXT        NOT NULL,
    debits_pending  BIGINT      NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    debits_posted   BIGINT      NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_pending BIGINT      NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    credits_posted  BIGINT      NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    no_overdraft    BOOLEAN     NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT accounts_tenant_owner CHECK ((kind = 'tenant') = (tenant_id IS NOT NULL)),
    -- Tenant accounts never go below zero, reservations included. Enforced here as well as in code.
    CONSTRAINT accounts_no_overdraft
        CHECK (NOT no_overdraft OR debits_posted::numeric + debits_pending::numeric <= credits_posted::numeric)
);

CREATE UNIQUE INDEX accounts_owner_key ON accounts (kind, COALESCE(tenant_id, ''), currency);
CREATE INDEX accounts_tenant_idx ON accounts (tenant_id) WHERE tenant_id IS NOT NULL;

CREATE TABLE transfers (
    -- Client-supplied or derived; unique forever.
    id                TEXT        PRIMARY KEY,
    -- No foreign keys on the write path: the batch that writes a transfer has just locked both
    -- accounts, and /v1/audit/journal/verify re-checks every account against its transfers.
    debit_account_id  TEXT        NOT NULL,
    credit_account_id TEXT        NOT NULL,
    amount            BIGINT      NOT NULL CHECK (amount > 0),
    currency          TEXT        NOT NULL,
    code              TEXT        NOT NULL,
    reference         TEXT,
    kind              TEXT        NOT NULL CONSTRAINT transfers_kind_check
                          CHECK (kind IN ('posted', 'pending', 'post_pending', 'void_pending')),
    pending_id        TEXT,
    timeout_at        TIMESTAMPTZ,
    -- Only for kind = 'pending': the one column that changes, when the transfer is resolved.
    pending_status    TEXT        CONSTRAINT transfers_pending_status_check
                          CHECK (pending_status IN ('pending', 'posted', 'voided', 'expired')),
    fingerprint       TEXT        NOT NULL,
    journal_seq       BIGINT      NOT NULL CONSTRAINT transfers_journal_seq_key UNIQUE,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT transfers_distinct_accounts CHECK (debit_account_id <> credit_account_id),
    CONSTRAINT transfers_pending_shape CHECK ((kind = 'pending') = (pending_status IS NOT NULL)),
    CONSTRAINT transfers_resolution_shape CHECK ((kind IN ('post_pending', 'void_pending')) = (pending_id IS NOT NULL))
);

-- A pending transfer is posted or voided at most once.
CREATE UNIQUE INDEX transfers_one_resolution ON transfers (pending_id) WHERE pending_id IS NOT NULL;
CREATE INDEX transfers_debit_idx ON transfers (debit_account_id, journal_seq);
CREATE INDEX transfers_credit_idx ON transfers (credit_account_id, journal_seq);
CREATE INDEX transfers_reference_idx ON transfers (reference) WHERE reference IS NOT NULL;
CREATE INDEX transfers_open_pending_idx ON transfers (timeout_at) WHERE pending_status = 'pending';

-- Every committed transfer, in commit order: hash = SHA-256(prev_hash || entry), where entry is
-- the RFC 8785 canonical JSON of the transfer (all values strings, so canonical form is exact).
CREATE TABLE journal (
    seq         BIGINT      PRIMARY KEY,
    transfer_id TEXT        NOT NULL CONSTRAINT journal_transfer_id_key UNIQUE,
    entry       TEXT        NOT NULL,
    prev_hash   BYTEA       NOT NULL,
    hash        BYTEA       NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The chain head. Locking it orders ledger batches across replicas.
CREATE TABLE journal_head (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    seq       BIGINT  NOT NULL,
    hash      BYTEA   NOT NULL
);

INSERT INTO journal_head (singleton, seq, hash) VALUES (TRUE, 0, decode(repeat('00', 32), 'hex'));
