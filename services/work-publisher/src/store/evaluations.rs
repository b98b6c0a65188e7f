//! The evaluator's latest ranking of each work's bids, from `bids.evaluated`. A newer
//! evaluation replaces an older one; a late redelivery of an older one changes nothing.

use aex_types::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;

/// One ranked bid, best first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ranked {
    pub rank: i64,
    pub bid_id: String,
    pub provider_id: String,
    pub price_minor: i64,
    pub total_score: f64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EvaluationRow {
    pub work_id: String,
    pub evaluation_id: String,
    pub strategy: String,
    pub ranking: sqlx::types::Json<Vec<Ranked>>,
    pub degraded: Vec<String>,
    pub evaluated_at: Timestamp,
}

/// Stores the evaluation unless a newer one is already there; true when stored.
pub async fn upsert<'e>(executor: impl PgExecutor<'e>, row: &EvaluationRow) -> Result<bool, sqlx::Error> {
    let stored = sqlx::query(
        "INSERT INTO evaluations (work_id, evaluation_id, strategy, ranking, degraded, evaluated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (work_id) DO UPDATE SET evaluation_id = excluded.evaluation_id, strategy = excluded.strategy,
                ranking = excluded.ranking, degraded = excluded.degraded, evaluated_at = excluded.evaluated_at,
                received_at = now()
         WHERE evaluations.evaluated_at <= excluded.evaluated_at AND evaluations.evaluation_id <> excluded.evaluation_id",
    )
    .bind(&row.work_id)
    .bind(&row.evaluation_id)
    .bind(&row.strategy)
    .bind(&row.ranking)
    .bind(&row.degraded)
    .bind(row.evaluated_at)
    .execute(executor)
    .await?
    .rows_affected();
    Ok(stored == 1)
}

pub async fn get<'e>(executor: impl PgExecutor<'e>, work_id: &str) -> Result<Option<EvaluationRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT work_id, evaluation_id, strategy, ranking, degraded, evaluated_at FROM evaluations WHERE work_id = $1",
    )
    .bind(work_id)
    .fetch_optional(executor)
    .await
}
