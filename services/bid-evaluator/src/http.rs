//! `GET /v1/work/{id}/evaluation` for the work's owner and the platform's
//! `POST /internal/v1/evaluate`.

use crate::AppState;
use crate::domain::scoring::Strategy;
use crate::evaluation::{self, EvaluationError, EvaluationView};
use aex_common::auth::Principal;
use aex_common::server::{ApiError, Json};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

fn valid_work_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn database(error: sqlx::Error) -> ApiError {
    tracing::error!(%error, "database error");
    ApiError::service_unavailable("the database is unavailable")
}

/// The latest evaluation of a work, for the tenant that published it; 404 for anyone else.
pub async fn get_evaluation(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<EvaluationView>, ApiError> {
    let tenant_id = principal.require_tenant()?;
    if !valid_work_id(&id) {
        return Err(ApiError::not_found("no evaluation for this work"));
    }
    let mut conn = state.pool.acquire().await.map_err(database)?;
    match evaluation::latest(&mut conn, &id).await.map_err(database)? {
        Some((view, owner)) if owner == tenant_id => Ok(Json(view)),
        _ => Err(ApiError::not_found("no evaluation for this work")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateBody {
    pub work_id: Option<String>,
    pub budget: Option<Budget>,
    pub constraints: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub max_price_minor: Option<i64>,
    pub bid_strategy: Option<String>,
}

/// Evaluates a closed work again now (e.g. once certauth is back), from the terms recorded
/// with its last evaluation, overridden by `budget` and `constraints` when given.
pub async fn evaluate_now(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<EvaluateBody>,
) -> Result<(StatusCode, Json<EvaluationView>), ApiError> {
    principal.require_service()?;
    let work_id = body.work_id.unwrap_or_default();
    if !valid_work_id(&work_id) {
        return Err(ApiError::bad_request("VALIDATION_ERROR", "work_id is required"));
    }
    let mut tx = state.pool.begin().await.map_err(database)?;
    let mut work = evaluation::latest_spec(&mut tx, &work_id)
        .await
        .map_err(database)?
        .ok_or_else(|| ApiError::not_found("this work's bid window has not closed here yet"))?;
    if let Some(budget) = body.budget {
        if let Some(max) = budget.max_price_minor {
            work.max_price_minor = max;
        }
        if let Some(strategy) = budget.bid_strategy {
            work.strategy = Strategy::parse(&strategy).ok_or_else(|| {
                ApiError::bad_request("VALIDATION_ERROR", "bid_strategy must be balanced, lowest_price or best_quality")
            })?;
        }
    }
    if let Some(constraints) = body.constraints {
        work.constraints = constraints;
    }
    let view = match state.evaluator.evaluate(&mut tx, &work, None).await {
        Ok(Some(view)) => view,
        Ok(None) => return Err(ApiError::internal()),
        Err(EvaluationError::Invalid(message)) => return Err(ApiError::bad_request("VALIDATION_ERROR", message)),
        Err(EvaluationError::WorkNotFound) => return Err(ApiError::not_found("work not found")),
        Err(EvaluationError::Unavailable(message)) => {
            tracing::warn!(%message, "re-evaluation failed");
            return Err(ApiError::service_unavailable("a dependency is unavailable"));
        }
    };
    tx.commit().await.map_err(database)?;
    Ok((StatusCode::OK, Json(view)))
}
