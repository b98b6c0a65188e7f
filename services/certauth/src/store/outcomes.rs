//! Contract outcomes of providers: the evidence trust and reputation are computed from.
//! One row per contract, whatever order and however often its events arrive.

use sqlx::PgConnection;
use time::OffsetDateTime;

/// At most this many of a provider's most recent outcomes are read for a recompute; older
/// ones weigh under 2^-100 in the trust score and the count thresholds stop at 200.
pub const EVIDENCE_LIMIT: i64 = 10_000;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutcomeRow {
    pub contract_id: String,
    pub provider_tenant_id: String,
    pub consumer_tenant_id: String,
    pub success: bool,
    pub price_minor: Option<i64>,
    pub occurred_at: OffsetDateTime,
}

/// A contract's outcome as work-publisher reported it.
#[derive(Debug)]
pub struct NewOutcome<'a> {
    pub contract_id: &'a str,
    pub provider_id: &'a str,
    pub provider_tenant_id: &'a str,
    pub consumer_tenant_id: &'a str,
    pub success: bool,
    pub occurred_at: OffsetDateTime,
}

/// Records the outcome unless the contract already has one; true if this call recorded it.
pub async fn record_outcome(conn: &mut PgConnection, new: &NewOutcome<'_>) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO provider_outcomes
             (contract_id, provider_id, provider_tenant_id, consumer_tenant_id, success, occurred_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT ON CONSTRAINT provider_outcomes_pkey DO NOTHING",
    )
    .bind(new.contract_id)
    .bind(new.provider_id)
    .bind(new.provider_tenant_id)
    .bind(new.consumer_tenant_id)
    .bind(new.success)
    .bind(new.occurred_at)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// A settled contract: its price and currency.
#[derive(Debug)]
pub struct NewSettlement<'a> {
    pub contract_id: &'a str,
    pub provider_id: &'a str,
    pub provider_tenant_id: &'a str,
    pub consumer_tenant_id: &'a str,
    pub price_minor: i64,
    pub currency: &'a str,
    pub settled_at: OffsetDateTime,
}

/// Adds the settled price to the contract's outcome (creating it as a success when the
/// settlement arrives first); true if this call changed anything.
pub async fn record_settlement(conn: &mut PgConnection, new: &NewSettlement<'_>) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "INSERT INTO provider_outcomes
             (contract_id, provider_id, provider_tenant_id, consumer_tenant_id, success, price_minor, currency,
              occurred_at, settled_at)
         VALUES ($1, $2, $3, $4, true, $5, $6, $7, $7)
         ON CONFLICT ON CONSTRAINT provider_outcomes_pkey DO UPDATE
             SET price_minor = EXCLUDED.price_minor, currency = EXCLUDED.currency, settled_at = EXCLUDED.settled_at
             WHERE provider_outcomes.settled_at IS NULL",
    )
    .bind(new.contract_id)
    .bind(new.provider_id)
    .bind(new.provider_tenant_id)
    .bind(new.consumer_tenant_id)
    .bind(new.price_minor)
    .bind(new.currency)
    .bind(new.settled_at)
    .execute(conn)
    .await?;
    Ok(changed.rows_affected() == 1)
}

/// The provider's most recent outcomes (at most [`EVIDENCE_LIMIT`]).
pub async fn recent(conn: &mut PgConnection, provider_id: &str) -> Result<Vec<OutcomeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT contract_id, provider_tenant_id, consumer_tenant_id, success, price_minor, occurred_at
         FROM provider_outcomes WHERE provider_id = $1
         ORDER BY occurred_at DESC, contract_id LIMIT $2",
    )
    .bind(provider_id)
    .bind(EVIDENCE_LIMIT)
    .fetch_all(conn)
    .await
}
