//! Work specs and their bid windows. Status changes go through the domain's transition
//! function first and are guarded here by the expected current status.

use crate::domain::matching::WorkFacts;
use aex_types::{Currency, Timestamp};
use sqlx::{PgConnection, PgExecutor};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkRow {
    pub id: String,
    pub tenant_id: String,
    pub category: String,
    pub description: String,
    pub currency: Currency,
    pub max_price_minor: i64,
    pub bid_strategy: String,
    pub max_cpa_bonus_minor: Option<i64>,
    pub constraints: serde_json::Value,
    pub max_latency_ms: Option<i64>,
    pub regions: Option<Vec<String>>,
    pub success_criteria: serde_json::Value,
    pub payload: serde_json::Value,
    pub auto_award: bool,
    pub bid_window_ms: i32,
    pub status: String,
    pub bid_window_ends_at: Timestamp,
    pub providers_notified: i32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
}

impl WorkRow {
    pub fn facts(&self) -> WorkFacts<'_> {
        WorkFacts {
            category: &self.category,
            currency: self.currency.code(),
            max_price_minor: self.max_price_minor,
            max_latency_ms: self.max_latency_ms,
            regions: self.regions.as_deref(),
        }
    }
}

const COLUMNS: &str = "id, tenant_id, category, description, currency, max_price_minor, bid_strategy,
        max_cpa_bonus_minor, constraints, max_latency_ms, regions, success_criteria, payload, auto_award,
        bid_window_ms, status, bid_window_ends_at, providers_notified, created_at, updated_at, closed_at, cancelled_at";

#[derive(Debug, Clone)]
pub struct NewWork {
    pub id: String,
    pub tenant_id: String,
    pub category: String,
    pub description: String,
    pub currency: Currency,
    pub max_price_minor: i64,
    pub bid_strategy: String,
    pub max_cpa_bonus_minor: Option<i64>,
    pub constraints: serde_json::Value,
    pub max_latency_ms: Option<i64>,
    pub regions: Option<Vec<String>>,
    pub success_criteria: serde_json::Value,
    pub payload: serde_json::Value,
    pub auto_award: bool,
    pub bid_window_ms: i32,
    pub providers_notified: i32,
}

/// Inserts OPEN work whose window ends `bid_window_ms` after the database's clock now.
pub async fn insert(conn: &mut PgConnection, w: &NewWork) -> Result<WorkRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO work (id, tenant_id, category, description, currency, max_price_minor, bid_strategy,
                           max_cpa_bonus_minor, constraints, max_latency_ms, regions, success_criteria, payload,
                           auto_award, bid_window_ms, providers_notified, status, bid_window_ends_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'OPEN',
                 now() + $15 * interval '1 millisecond')
         RETURNING {COLUMNS}"
    )))
    .bind(&w.id)
    .bind(&w.tenant_id)
    .bind(&w.category)
    .bind(&w.description)
    .bind(w.currency)
    .bind(w.max_price_minor)
    .bind(&w.bid_strategy)
    .bind(w.max_cpa_bonus_minor)
    .bind(&w.constraints)
    .bind(w.max_latency_ms)
    .bind(&w.regions)
    .bind(&w.success_criteria)
    .bind(&w.payload)
    .bind(w.auto_award)
    .bind(w.bid_window_ms)
    .bind(w.providers_notified)
    .fetch_one(conn)
    .await
}

pub async fn get<'e>(executor: impl PgExecutor<'e>, id: &str) -> Result<Option<WorkRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM work WHERE id = $1")))
        .bind(id)
        .fetch_optional(executor)
        .await
}

/// The row locked against status changes for the rest of the transaction.
pub async fn get_for_update(conn: &mut PgConnection, id: &str) -> Result<Option<WorkRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM work WHERE id = $1 FOR UPDATE")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The row share-locked, with whether its window is still open by the database clock. A bid
/// holds this lock until it commits, so the window closer (which takes `FOR UPDATE SKIP
/// LOCKED`) can never close a window under a bid being written.
pub async fn get_for_bid(conn: &mut PgConnection, id: &str) -> Result<Option<(WorkRow, bool)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Locked {
        #[sqlx(flatten)]
        row: WorkRow,
        window_open: bool,
    }
    let locked: Option<Locked> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, bid_window_ends_at > clock_timestamp() AS window_open FROM work WHERE id = $1 FOR SHARE"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(locked.map(|l| (l.row, l.window_open)))
}

/// The tenant's own work, newest first, optionally of one status.
pub async fn for_tenant(
    executor: impl PgExecutor<'_>,
    tenant_id: &str,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<WorkRow>, i64), sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Counted {
        #[sqlx(flatten)]
        row: WorkRow,
        total: i64,
    }
    let rows: Vec<Counted> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, count(*) OVER () AS total FROM work
         WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2)
         ORDER BY created_at DESC, id LIMIT $3 OFFSET $4"
    )))
    .bind(tenant_id)
    .bind(status)
    .bind(limit)
    .bind(offset)
    .fetch_all(executor)
    .await?;
    let total = rows.first().map(|r| r.total).unwrap_or(0);
    Ok((rows.into_iter().map(|r| r.row).collect(), total))
}

/// Other tenants' OPEN work whose window has not ended, soonest deadline first, capped at `cap`
/// rows (the candidates a provider's subscriptions are matched against).
pub async fn open_of_others(
    executor: impl PgExecutor<'_>,
    tenant_id: &str,
    cap: i64,
) -> Result<Vec<WorkRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM work WHERE status = 'OPEN' AND tenant_id <> $1 AND bid_window_ends_at > now()
         ORDER BY bid_window_ends_at, id LIMIT $2"
    )))
    .bind(tenant_id)
    .bind(cap)
    .fetch_all(executor)
    .await
}

/// Moves the work from `from` to `to`; false when it was no longer in `from`.
pub async fn set_status(conn: &mut PgConnection, id: &str, from: &str, to: &str) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE work SET status = $3, updated_at = now(),
                cancelled_at = CASE WHEN $3 = 'CANCELLED' THEN now() ELSE cancelled_at END
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Closes up to `batch` due windows (OPEN → EVALUATING) and returns them with their bid counts.
/// Rows another closer or a bid in flight holds are skipped, so each window closes once.
pub async fn close_due_windows(conn: &mut PgConnection, batch: i64) -> Result<Vec<(WorkRow, i64)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Closed {
        #[sqlx(flatten)]
        row: WorkRow,
        bid_count: i64,
    }
    let closed: Vec<Closed> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH due AS (
             SELECT id FROM work WHERE status = 'OPEN' AND bid_window_ends_at <= clock_timestamp()
             ORDER BY bid_window_ends_at LIMIT $1 FOR UPDATE SKIP LOCKED
         ), closed AS (
             UPDATE work w SET status = 'EVALUATING', closed_at = now(), updated_at = now()
             FROM due WHERE w.id = due.id AND w.status = 'OPEN'
             RETURNING w.*
         )
         SELECT {COLUMNS}, (SELECT count(*) FROM bids b WHERE b.work_id = closed.id) AS bid_count FROM closed"
    )))
    .bind(batch)
    .fetch_all(conn)
    .await?;
    Ok(closed.into_iter().map(|c| (c.row, c.bid_count)).collect())
}

/// Seconds until the next open window ends (negative when overdue), if any is open.
pub async fn next_deadline_in_ms(executor: impl PgExecutor<'_>) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT (extract(epoch FROM (min(bid_window_ends_at) - clock_timestamp())) * 1000)::bigint
         FROM work WHERE status = 'OPEN'",
    )
    .fetch_one(executor)
    .await
}
