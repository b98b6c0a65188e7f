//! `POST /v1/work/{id}/award`, `GET /v1/contracts/{id}` and the contract lifecycle routes
//! `/progress`, `/complete`, `/fail`. A contract is visible to its two parties only; anyone
//! else gets 404, as for a contract that does not exist.

use super::{known_id, optional_text, required_text, storable_json};
use crate::AppState;
use crate::contracts::{self, Awarder, Choice, Completion, Failure, Progress};
use crate::error::{Error, Result};
use crate::store::contracts::ContractRow;
use aex_common::auth::Principal;
use aex_common::server::Json;
use aex_types::Money;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwardBody {
    pub bid_id: Option<String>,
    #[serde(default)]
    pub auto_award: bool,
}

#[derive(Debug, Serialize)]
pub struct ProgressView {
    pub percent: Option<i16>,
    pub status: Option<String>,
    pub message: Option<String>,
}

/// A contract as its parties see it.
#[derive(Debug, Serialize)]
pub struct ContractView {
    pub contract_id: String,
    pub work_id: String,
    pub bid_id: String,
    pub consumer_tenant_id: String,
    pub provider_tenant_id: String,
    pub provider_id: String,
    pub agreed_price: String,
    pub agreed_price_minor: i64,
    pub currency: String,
    pub status: String,
    pub provider_endpoint: String,
    pub awarded_by: String,
    pub progress: ProgressView,
    pub result_summary: Option<String>,
    pub result_location: Option<String>,
    pub metrics: Option<Value>,
    pub failure_reason: Option<String>,
    pub failure_message: Option<String>,
    pub failed_by: Option<String>,
    pub expires_at: String,
    pub awarded_at: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub failed_at: Option<String>,
    pub updated_at: String,
}

impl ContractView {
    pub fn from_row(row: &ContractRow) -> Self {
        let currency = row.currency;
        Self {
            contract_id: row.id.clone(),
            work_id: row.work_id.clone(),
            bid_id: row.bid_id.clone(),
            consumer_tenant_id: row.consumer_tenant_id.clone(),
            provider_tenant_id: row.provider_tenant_id.clone(),
            provider_id: row.provider_id.clone(),
            agreed_price: Money::from_minor(row.agreed_price_minor, currency).to_decimal_string(),
            agreed_price_minor: row.agreed_price_minor,
            currency: currency.code().to_string(),
            status: row.status.clone(),
            provider_endpoint: row.provider_endpoint.clone(),
            awarded_by: row.awarded_by.clone(),
            progress: ProgressView {
                percent: row.progress_percent,
                status: row.progress_status.clone(),
                message: row.progress_message.clone(),
            },
            result_summary: row.result_summary.clone(),
            result_location: row.result_location.clone(),
            metrics: row.metrics.clone(),
            failure_reason: row.failure_reason.clone(),
            failure_message: row.failure_message.clone(),
            failed_by: row.failed_by.clone(),
            expires_at: row.expires_at.to_string(),
            awarded_at: row.awarded_at.map(|t| t.to_string()),
            started_at: row.started_at.map(|t| t.to_string()),
            completed_at: row.completed_at.map(|t| t.to_string()),
            failed_at: row.failed_at.map(|t| t.to_string()),
            updated_at: row.updated_at.to_string(),
        }
    }
}

/// The owner awards its work: `{bid_id}` or `{auto_award:true}` (the evaluator's best valid
/// bid). 201 with the contract; 402 when the escrow cannot be held; 409 when already awarded.
pub async fn award(
    State(state): State<AppState>,
    principal: Principal,
    Path(work_id): Path<String>,
    Json(body): Json<AwardBody>,
) -> Result<(StatusCode, Json<ContractView>)> {
    principal.require_scope("contracts:write")?;
    let tenant_id = principal.require_tenant()?;
    known_id(&work_id, "work")?;
    let choice = match (body.bid_id, body.auto_award) {
        (Some(_), true) => return Err(Error::validation("give either bid_id or auto_award:true, not both")),
        (Some(bid_id), false) => {
            known_id(&bid_id, "bid").map_err(|_| Error::BidNotFound)?;
            Choice::Bid(bid_id)
        }
        (None, true) => Choice::Ranking,
        (None, false) => return Err(Error::validation("bid_id is required (or auto_award:true)")),
    };
    let contract = state.awards.award(&work_id, Awarder::Owner(tenant_id), choice).await?;
    Ok((StatusCode::CREATED, Json(ContractView::from_row(&contract))))
}

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ContractView>> {
    let tenant_id = principal.require_tenant()?;
    known_id(&id, "contract")?;
    let row = crate::store::contracts::get(&state.pool, &id).await?.ok_or(Error::NotFound)?;
    contracts::party_of(&row, tenant_id).ok_or(Error::NotFound)?;
    Ok(Json(ContractView::from_row(&row)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgressBody {
    pub status: Option<String>,
    pub percent: Option<Value>,
    pub message: Option<String>,
}

pub async fn progress(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<ProgressBody>,
) -> Result<Json<ContractView>> {
    principal.require_scope("contracts:write")?;
    let tenant_id = principal.require_tenant()?;
    known_id(&id, "contract")?;
    let percent = match body.percent {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_u64()
                .filter(|p| *p <= 100)
                .and_then(|p| i16::try_from(p).ok())
                .ok_or(Error::validation("percent must be a whole number from 0 to 100"))?,
        ),
    };
    let report = Progress {
        percent,
        status: optional_text(body.status, "status", 64)?,
        message: optional_text(body.message, "message", 2_000)?,
    };
    let row = contracts::report_progress(&state.pool, tenant_id, &id, report).await?;
    Ok(Json(ContractView::from_row(&row)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    pub success: Option<bool>,
    pub result_summary: Option<String>,
    pub metrics: Option<Value>,
    pub result_location: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Completed {
    pub contract_id: String,
    pub status: String,
    pub completed_at: Option<String>,
    /// True when the provider's payout was handed to settlement.
    pub settlement_initiated: bool,
}

pub async fn complete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<CompleteBody>,
) -> Result<Json<Completed>> {
    principal.require_scope("contracts:write")?;
    let tenant_id = principal.require_tenant()?;
    known_id(&id, "contract")?;
    let success = body.success.ok_or(Error::validation("success is required"))?;
    let metrics = match body.metrics {
        None | Some(Value::Null) => None,
        Some(metrics @ Value::Object(_)) => {
            storable_json(&metrics, "metrics", 32 * 1024)?;
            Some(metrics)
        }
        Some(_) => return Err(Error::validation("metrics must be an object")),
    };
    let result_location = match optional_text(body.result_location, "result_location", 2048)? {
        Some(location) => Some(super::http_url(&location, "result_location")?),
        None => None,
    };
    let report = Completion {
        success,
        result_summary: optional_text(body.result_summary, "result_summary", 10_000)?,
        result_location,
        metrics,
    };
    let row = contracts::complete(&state.pool, tenant_id, &id, report).await?;
    let settled = row.status == "COMPLETED";
    Ok(Json(Completed {
        contract_id: row.id,
        status: row.status,
        completed_at: row.completed_at.or(row.failed_at).map(|t| t.to_string()),
        settlement_initiated: settled,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailBody {
    pub reason: Option<String>,
    pub message: Option<String>,
    /// Accepted for compatibility; the reporting party comes from the credentials.
    #[serde(default)]
    pub reported_by: Option<String>,
}

pub async fn fail(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<FailBody>,
) -> Result<Json<ContractView>> {
    principal.require_scope("contracts:write")?;
    let tenant_id = principal.require_tenant()?;
    known_id(&id, "contract")?;
    let reason = required_text(body.reason, "reason", 64)?;
    if !reason.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ')) {
        return Err(Error::validation("reason must be a short code of letters, digits, _ - . or space"));
    }
    let _ = body.reported_by;
    let report = Failure { reason, message: optional_text(body.message, "message", 2_000)? };
    let row = contracts::fail(&state.pool, tenant_id, &id, report).await?;
    Ok(Json(ContractView::from_row(&row)))
}
