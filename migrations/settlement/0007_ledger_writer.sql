-- The elected ledger writer: one settlement instance holds this lease and commits the batches
-- that the other instances hand to it (ADR 0014). The lease only concentrates writes so that
-- batches merge; correctness never depends on it, because every batch still locks the journal
-- head. `address` is where the other instances reach the holder.

CREATE TABLE ledger_writer (
    singleton  BOOLEAN     PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    holder     TEXT        NOT NULL,
    address    TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
