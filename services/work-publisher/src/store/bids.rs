//! Sealed bids: one live bid per provider per work (`bids_work_provider_key`); a re-bid
//! before close replaces the row.

use aex_types::{Currency, Timestamp};
use sqlx::{PgConnection, PgExecutor};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BidRow {
    pub id: String,
    pub work_id: String,
    pub provider_id: String,
    pub tenant_id: String,
    pub currency: Currency,
    pub price_minor: i64,
    pub price_breakdown: Option<serde_json::Value>,
    pub confidence: f64,
    pub approach: String,
    pub estimated_latency_ms: i64,
    pub mvp_sample: Option<serde_json::Value>,
    pub sla: serde_json::Value,
    pub a2a_endpoint: String,
    pub expires_at: Timestamp,
    pub status: String,
    pub revision: i32,
    pub received_at: Timestamp,
}

const COLUMNS: &str = "id, work_id, provider_id, tenant_id, currency, price_minor, price_breakdown, confidence,
        approach, estimated_latency_ms, mvp_sample, sla, a2a_endpoint, expires_at, status, revision, received_at";

#[derive(Debug, Clone)]
pub struct NewBid {
    pub id: String,
    pub work_id: String,
    pub provider_id: String,
    pub tenant_id: String,
    pub currency: Currency,
    pub price_minor: i64,
    pub price_breakdown: Option<serde_json::Value>,
    pub confidence: f64,
    pub approach: String,
    pub estimated_latency_ms: i64,
    pub mvp_sample: Option<serde_json::Value>,
    pub sla: serde_json::Value,
    pub a2a_endpoint: String,
    pub expires_at: Timestamp,
}

/// Serializes one provider's bids: concurrent bids of the same provider queue here, so each
/// re-bid sees the bid it replaces. Lock order: the work row (share) first, then this.
pub async fn lock_provider(conn: &mut PgConnection, provider_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT id FROM providers WHERE id = $1 FOR NO KEY UPDATE").bind(provider_id).execute(conn).await?;
    Ok(())
}

/// The provider's current bid on the work, locked, if any.
pub async fn current_for_update(
    conn: &mut PgConnection,
    work_id: &str,
    provider_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM bids WHERE work_id = $1 AND provider_id = $2 FOR UPDATE")
        .bind(work_id)
        .bind(provider_id)
        .fetch_optional(conn)
        .await
}

/// Inserts the bid, or replaces the provider's live bid on the same work.
pub async fn upsert(conn: &mut PgConnection, b: &NewBid) -> Result<BidRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO bids (id, work_id, provider_id, tenant_id, currency, price_minor, price_breakdown, confidence,
                           approach, estimated_latency_ms, mvp_sample, sla, a2a_endpoint, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT ON CONSTRAINT bids_work_provider_key DO UPDATE SET
             id = EXCLUDED.id, currency = EXCLUDED.currency, price_minor = EXCLUDED.price_minor,
             price_breakdown = EXCLUDED.price_breakdown, confidence = EXCLUDED.confidence,
             approach = EXCLUDED.approach, estimated_latency_ms = EXCLUDED.estimated_latency_ms,
             mvp_sample = EXCLUDED.mvp_sample, sla = EXCLUDED.sla, a2a_endpoint = EXCLUDED.a2a_endpoint,
             expires_at = EXCLUDED.expires_at, status = 'RECEIVED', revision = bids.revision + 1,
             received_at = now()
         RETURNING {COLUMNS}"
    )))
    .bind(&b.id)
    .bind(&b.work_id)
    .bind(&b.provider_id)
    .bind(&b.tenant_id)
    .bind(b.currency)
    .bind(b.price_minor)
    .bind(&b.price_breakdown)
    .bind(b.confidence)
    .bind(&b.approach)
    .bind(b.estimated_latency_ms)
    .bind(&b.mvp_sample)
    .bind(&b.sla)
    .bind(&b.a2a_endpoint)
    .bind(b.expires_at)
    .fetch_one(conn)
    .await
}

/// Every bid on a work, in the order received.
pub async fn for_work(executor: impl PgExecutor<'_>, work_id: &str) -> Result<Vec<BidRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM bids WHERE work_id = $1 ORDER BY received_at, id"
    )))
    .bind(work_id)
    .fetch_all(executor)
    .await
}

/// The bids one tenant's providers placed on a work.
pub async fn for_work_and_tenant(
    executor: impl PgExecutor<'_>,
    work_id: &str,
    tenant_id: &str,
) -> Result<Vec<BidRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM bids WHERE work_id = $1 AND tenant_id = $2 ORDER BY received_at, id"
    )))
    .bind(work_id)
    .bind(tenant_id)
    .fetch_all(executor)
    .await
}

/// One bid of a work.
pub async fn get_for_work(
    executor: impl PgExecutor<'_>,
    work_id: &str,
    bid_id: &str,
) -> Result<Option<BidRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM bids WHERE work_id = $1 AND id = $2")))
        .bind(work_id)
        .bind(bid_id)
        .fetch_optional(executor)
        .await
}

/// After an award: the winning bid ACCEPTED, every other bid on the work REJECTED.
pub async fn settle_award(conn: &mut PgConnection, work_id: &str, winner: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE bids SET status = CASE WHEN id = $2 THEN 'ACCEPTED' ELSE 'REJECTED' END WHERE work_id = $1")
        .bind(work_id)
        .bind(winner)
        .execute(conn)
        .await?;
    Ok(())
}
