//! Contracts: one per work (`contracts_one_per_work`, ignoring aborted awards). An award is
//! inserted PENDING, then becomes AWARDED once settlement holds the escrow, or ABORTED.
//! Every status change is guarded by the expected current status.

use aex_types::{Currency, Timestamp};
use sqlx::{PgConnection, PgExecutor};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContractRow {
    pub id: String,
    pub work_id: String,
    pub bid_id: String,
    pub consumer_tenant_id: String,
    pub provider_tenant_id: String,
    pub provider_id: String,
    pub category: String,
    pub currency: Currency,
    pub agreed_price_minor: i64,
    pub provider_endpoint: String,
    pub status: String,
    pub awarded_by: String,
    pub progress_percent: Option<i16>,
    pub progress_status: Option<String>,
    pub progress_message: Option<String>,
    pub result_summary: Option<String>,
    pub result_location: Option<String>,
    pub metrics: Option<serde_json::Value>,
    pub failure_reason: Option<String>,
    pub failure_message: Option<String>,
    pub failed_by: Option<String>,
    pub abort_reason: Option<String>,
    pub hold_settled: bool,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub awarded_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub failed_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, work_id, bid_id, consumer_tenant_id, provider_tenant_id, provider_id, category, currency,
        agreed_price_minor, provider_endpoint, status, awarded_by, progress_percent, progress_status,
        progress_message, result_summary, result_location, metrics, failure_reason, failure_message, failed_by,
        abort_reason, hold_settled, expires_at, created_at, awarded_at, started_at, completed_at, failed_at,
        updated_at";

/// The name of the one-contract-per-work index, for turning its violation into a 409.
pub const ONE_PER_WORK: &str = "contracts_one_per_work";

#[derive(Debug, Clone)]
pub struct NewContract {
    pub id: String,
    pub work_id: String,
    pub bid_id: String,
    pub consumer_tenant_id: String,
    pub provider_tenant_id: String,
    pub provider_id: String,
    pub category: String,
    pub currency: Currency,
    pub agreed_price_minor: i64,
    pub provider_endpoint: String,
    pub awarded_by: &'static str,
    pub ttl_ms: i64,
}

/// Inserts the PENDING award; its deadline is provisional until the award completes.
pub async fn insert_pending(conn: &mut PgConnection, c: &NewContract) -> Result<ContractRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO contracts (id, work_id, bid_id, consumer_tenant_id, provider_tenant_id, provider_id, category,
                                currency, agreed_price_minor, provider_endpoint, awarded_by, status, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'PENDING', now() + $12 * interval '1 millisecond')
         RETURNING {COLUMNS}"
    )))
    .bind(&c.id)
    .bind(&c.work_id)
    .bind(&c.bid_id)
    .bind(&c.consumer_tenant_id)
    .bind(&c.provider_tenant_id)
    .bind(&c.provider_id)
    .bind(&c.category)
    .bind(c.currency)
    .bind(c.agreed_price_minor)
    .bind(&c.provider_endpoint)
    .bind(c.awarded_by)
    .bind(c.ttl_ms)
    .fetch_one(conn)
    .await
}

pub async fn get<'e>(executor: impl PgExecutor<'e>, id: &str) -> Result<Option<ContractRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM contracts WHERE id = $1")))
        .bind(id)
        .fetch_optional(executor)
        .await
}

pub async fn get_for_update(conn: &mut PgConnection, id: &str) -> Result<Option<ContractRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM contracts WHERE id = $1 FOR UPDATE")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The work's live contract or award in progress (not an aborted one), if any.
pub async fn live_for_work<'e>(
    executor: impl PgExecutor<'e>,
    work_id: &str,
) -> Result<Option<ContractRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM contracts WHERE work_id = $1 AND status <> 'ABORTED'"
    )))
    .bind(work_id)
    .fetch_optional(executor)
    .await
}

/// PENDING → AWARDED with the contract's real deadline; `None` when it was no longer PENDING.
pub async fn mark_awarded(conn: &mut PgConnection, id: &str, ttl_ms: i64) -> Result<Option<ContractRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE contracts SET status = 'AWARDED', awarded_at = now(), updated_at = now(), hold_settled = true,
                expires_at = now() + $2 * interval '1 millisecond'
         WHERE id = $1 AND status = 'PENDING' RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(ttl_ms)
    .fetch_optional(conn)
    .await
}

/// PENDING → ABORTED. `hold_settled` says whether settlement is known to hold nothing for it
/// (refused, or never asked); otherwise the reconciler releases what may be there.
pub async fn mark_aborted<'e>(
    executor: impl PgExecutor<'e>,
    id: &str,
    reason: &str,
    hold_settled: bool,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE contracts SET status = 'ABORTED', abort_reason = $2, hold_settled = $3, updated_at = now()
         WHERE id = $1 AND status = 'PENDING'",
    )
    .bind(id)
    .bind(reason)
    .bind(hold_settled)
    .execute(executor)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// An aborted award's possible hold is confirmed gone.
pub async fn mark_hold_settled<'e>(executor: impl PgExecutor<'e>, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE contracts SET hold_settled = true, updated_at = now() WHERE id = $1 AND status = 'ABORTED'")
        .bind(id)
        .execute(executor)
        .await?;
    Ok(())
}

/// A progress report; the first moves AWARDED → EXECUTING.
pub async fn record_progress(
    conn: &mut PgConnection,
    id: &str,
    from: &str,
    percent: Option<i16>,
    status: Option<&str>,
    message: Option<&str>,
) -> Result<Option<ContractRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE contracts SET status = 'EXECUTING', started_at = coalesce(started_at, now()), updated_at = now(),
                progress_percent = coalesce($3, progress_percent), progress_status = coalesce($4, progress_status),
                progress_message = coalesce($5, progress_message)
         WHERE id = $1 AND status = $2 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(from)
    .bind(percent)
    .bind(status)
    .bind(message)
    .fetch_optional(conn)
    .await
}

/// How a contract ended.
#[derive(Debug, Clone)]
pub struct Ending<'a> {
    pub to: &'a str,
    pub result_summary: Option<&'a str>,
    pub result_location: Option<&'a str>,
    pub metrics: Option<&'a serde_json::Value>,
    pub failure_reason: Option<&'a str>,
    pub failure_message: Option<&'a str>,
    pub failed_by: Option<&'a str>,
}

/// Moves a live contract from `from` to the terminal state of `ending`.
pub async fn finish(
    conn: &mut PgConnection,
    id: &str,
    from: &str,
    ending: &Ending<'_>,
) -> Result<Option<ContractRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE contracts SET status = $3, updated_at = now(),
                completed_at = CASE WHEN $3 = 'COMPLETED' THEN now() ELSE completed_at END,
                failed_at = CASE WHEN $3 IN ('FAILED', 'EXPIRED') THEN now() ELSE failed_at END,
                progress_percent = CASE WHEN $3 = 'COMPLETED' THEN 100 ELSE progress_percent END,
                result_summary = coalesce($4, result_summary), result_location = coalesce($5, result_location),
                metrics = coalesce($6, metrics), failure_reason = coalesce($7, failure_reason),
                failure_message = coalesce($8, failure_message), failed_by = coalesce($9, failed_by)
         WHERE id = $1 AND status = $2 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(from)
    .bind(ending.to)
    .bind(ending.result_summary)
    .bind(ending.result_location)
    .bind(ending.metrics)
    .bind(ending.failure_reason)
    .bind(ending.failure_message)
    .bind(ending.failed_by)
    .fetch_optional(conn)
    .await
}

/// Up to `batch` live contracts past their deadline, locked; rows in use elsewhere are skipped.
pub async fn lock_overdue(conn: &mut PgConnection, batch: i64) -> Result<Vec<ContractRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM contracts WHERE status IN ('AWARDED', 'EXECUTING') AND expires_at <= clock_timestamp()
         ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED"
    )))
    .bind(batch)
    .fetch_all(conn)
    .await
}

/// Milliseconds until the next live contract's deadline (negative when overdue), if any.
pub async fn next_deadline_in_ms(executor: impl PgExecutor<'_>) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT (extract(epoch FROM (min(expires_at) - clock_timestamp())) * 1000)::bigint
         FROM contracts WHERE status IN ('AWARDED', 'EXECUTING')",
    )
    .fetch_one(executor)
    .await
}

/// Awards interrupted between their two steps for longer than `stale_ms`: PENDING ones, and
/// ABORTED ones whose hold may still exist.
pub async fn unresolved<'e>(
    executor: impl PgExecutor<'e>,
    stale_ms: i64,
    limit: i64,
) -> Result<Vec<ContractRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM contracts
         WHERE (status = 'PENDING' OR (status = 'ABORTED' AND NOT hold_settled))
           AND updated_at < now() - $1 * interval '1 millisecond'
         ORDER BY created_at LIMIT $2"
    )))
    .bind(stale_ms)
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// Contracts where the tenant is a party, newest first.
pub async fn for_party<'e>(
    executor: impl PgExecutor<'e>,
    tenant_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<ContractRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM contracts
         WHERE (consumer_tenant_id = $1 OR provider_tenant_id = $1) AND status NOT IN ('PENDING', 'ABORTED')
         ORDER BY created_at DESC, id LIMIT $2 OFFSET $3"
    )))
    .bind(tenant_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(executor)
    .await
}
