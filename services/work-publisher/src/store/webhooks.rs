//! Webhook deliveries and their attempts. A dispatcher claims due deliveries with a lease
//! (`FOR UPDATE SKIP LOCKED`), so replicas never send the same attempt twice at once.

use aex_types::Timestamp;
use sqlx::{PgConnection, PgExecutor};

#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub subscription_id: String,
    pub provider_id: String,
    pub work_id: String,
    pub url: String,
    pub payload: serde_json::Value,
}

/// A claimed delivery with what signing it needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueDelivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub url: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub secret: Option<String>,
}

pub async fn insert(conn: &mut PgConnection, d: &NewDelivery) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, event_id, event_type, subscription_id, provider_id, work_id, url, payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT ON CONSTRAINT webhook_deliveries_once DO NOTHING",
    )
    .bind(&d.id)
    .bind(&d.event_id)
    .bind(&d.event_type)
    .bind(&d.subscription_id)
    .bind(&d.provider_id)
    .bind(&d.work_id)
    .bind(&d.url)
    .bind(&d.payload)
    .execute(conn)
    .await?;
    Ok(())
}

/// Leases up to `limit` due deliveries for `lease_ms`.
pub async fn claim_due<'e>(
    executor: impl PgExecutor<'e>,
    limit: i64,
    lease_ms: i64,
) -> Result<Vec<DueDelivery>, sqlx::Error> {
    sqlx::query_as(
        "WITH due AS (
             SELECT id FROM webhook_deliveries
             WHERE status = 'PENDING' AND next_attempt_at <= now() AND (leased_until IS NULL OR leased_until < now())
             ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
         ), claimed AS (
             UPDATE webhook_deliveries d SET leased_until = now() + $2 * interval '1 millisecond'
             FROM due WHERE d.id = due.id
             RETURNING d.id, d.event_id, d.event_type, d.url, d.payload, d.attempts, d.subscription_id
         )
         SELECT c.id, c.event_id, c.event_type, c.url, c.payload, c.attempts, s.webhook_secret AS secret
         FROM claimed c JOIN subscriptions s ON s.id = c.subscription_id",
    )
    .bind(limit)
    .bind(lease_ms)
    .fetch_all(executor)
    .await
}

/// One attempt's result.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub delivery_id: String,
    pub attempt: i32,
    pub started_at: Timestamp,
    pub duration_ms: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub delivered: bool,
    /// When to try again; `None` gives the delivery up (or it was delivered).
    pub retry_in_ms: Option<i64>,
}

/// Records the attempt and moves the delivery on: DELIVERED, retried later, or FAILED.
pub async fn record(conn: &mut PgConnection, a: &Attempt) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(&a.delivery_id)
    .bind(a.attempt)
    .bind(a.started_at)
    .bind(a.duration_ms)
    .bind(a.status_code)
    .bind(&a.error)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE webhook_deliveries SET attempts = $2, last_status = $3, last_error = $4, leased_until = NULL,
                status = CASE WHEN $5 THEN 'DELIVERED' WHEN $6::bigint IS NULL THEN 'FAILED' ELSE 'PENDING' END,
                delivered_at = CASE WHEN $5 THEN now() ELSE NULL END,
                next_attempt_at = CASE WHEN $6::bigint IS NULL THEN next_attempt_at
                                       ELSE now() + $6 * interval '1 millisecond' END
         WHERE id = $1",
    )
    .bind(&a.delivery_id)
    .bind(a.attempt)
    .bind(a.status_code)
    .bind(&a.error)
    .bind(a.delivered)
    .bind(a.retry_in_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Milliseconds until the next pending delivery is due (negative when overdue), if any.
pub async fn next_due_in_ms(executor: impl PgExecutor<'_>) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT (extract(epoch FROM (min(next_attempt_at) - clock_timestamp())) * 1000)::bigint
         FROM webhook_deliveries WHERE status = 'PENDING'",
    )
    .fetch_one(executor)
    .await
}
