//! Contract escrow over HTTP: `POST /internal/v1/holds` (work-publisher, at award),
//! the AEX-compatible `POST /internal/settlement/complete`, and `GET /v1/settlements/{id}`
//! for the two parties.

use super::{parse_amount, parse_currency};
use crate::AppState;
use crate::domain::escrow::SettlementStatus;
use crate::error::{Error, Result};
use crate::service::escrow::{self, HoldRequest, Resolution};
use crate::store::settlements::{self, SettlementRow};
use aex_common::auth::Principal;
use aex_common::server::Json;
use aex_types::{Money, Timestamp};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

fn require_text(value: Option<String>, field: &'static str) -> Result<String> {
    match value {
        Some(text) if !text.is_empty() && text.len() <= 128 && text.bytes().all(|b| b.is_ascii_graphic()) => Ok(text),
        _ => Err(Error::validation(format!("{field} is required: 1 to 128 visible ASCII characters"))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    pub contract_id: Option<String>,
    pub work_id: Option<String>,
    pub category: Option<String>,
    pub consumer_tenant_id: Option<String>,
    pub provider_tenant_id: Option<String>,
    pub provider_id: Option<String>,
    #[serde(default, alias = "agreed_price")]
    pub amount: Value,
    pub currency: Option<String>,
    /// RFC 3339; an unresolved hold lapses back to the consumer then.
    pub expires_at: Option<String>,
}

/// The escrow of one contract, as its parties see it.
#[derive(Debug, Serialize)]
pub struct SettlementView {
    pub contract_id: String,
    pub hold_id: String,
    pub status: String,
    pub currency: String,
    pub price: String,
    pub price_minor: i64,
    pub platform_fee: Option<String>,
    pub platform_fee_minor: Option<i64>,
    pub protocol_fee: Option<String>,
    pub protocol_fee_minor: Option<i64>,
    pub payout: Option<String>,
    pub payout_minor: Option<i64>,
    pub tier: Option<String>,
    pub fee_policy_version: Option<String>,
    pub consumer_tenant_id: String,
    pub provider_tenant_id: String,
    pub provider_id: String,
    pub journal_seq: Option<i64>,
    pub release_reason: Option<String>,
    pub held_at: String,
    pub settled_at: Option<String>,
    pub released_at: Option<String>,
}

impl SettlementView {
    pub fn from_row(row: &SettlementRow) -> Self {
        let currency = row.currency;
        let text = |minor: i64| Money::from_minor(minor, currency).to_decimal_string();
        let time = |t: Timestamp| t.to_string();
        Self {
            contract_id: row.contract_id.clone(),
            hold_id: row.hold_transfer_id.clone(),
            status: row.status.as_str().to_string(),
            currency: currency.code().to_string(),
            price: text(row.price_minor),
            price_minor: row.price_minor,
            platform_fee: row.platform_fee_minor.map(text),
            platform_fee_minor: row.platform_fee_minor,
            protocol_fee: row.protocol_fee_minor.map(text),
            protocol_fee_minor: row.protocol_fee_minor,
            payout: row.payout_minor.map(text),
            payout_minor: row.payout_minor,
            tier: row.tier.clone(),
            fee_policy_version: row.fee_policy_version.clone(),
            consumer_tenant_id: row.consumer_tenant_id.clone(),
            provider_tenant_id: row.provider_tenant_id.clone(),
            provider_id: row.provider_id.clone(),
            journal_seq: row.journal_seq,
            release_reason: row.release_reason.clone(),
            held_at: time(row.held_at),
            settled_at: row.settled_at.map(time),
            released_at: row.released_at.map(time),
        }
    }
}

pub async fn place_hold(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<HoldBody>,
) -> Result<(StatusCode, Json<SettlementView>)> {
    principal.require_service()?;
    let currency = parse_currency(body.currency.as_deref())?;
    let expires_at_ms = match body.expires_at.as_deref() {
        Some(text) => Some(
            text.parse::<Timestamp>()
                .map_err(|_| Error::validation("expires_at must be an RFC 3339 time"))?
                .unix_millis(),
        ),
        None => None,
    };
    let request = HoldRequest {
        contract_id: require_text(body.contract_id, "contract_id")?,
        work_id: body.work_id,
        category: body.category,
        consumer_tenant_id: require_text(body.consumer_tenant_id, "consumer_tenant_id")?,
        provider_tenant_id: require_text(body.provider_tenant_id, "provider_tenant_id")?,
        provider_id: require_text(body.provider_id, "provider_id")?,
        price: parse_amount(&body.amount, currency, "amount")?,
        expires_at_ms,
    };
    if request.consumer_tenant_id == request.provider_tenant_id {
        return Err(Error::validation("a tenant cannot hold escrow for a contract with itself"));
    }
    let row = escrow::place_hold(&state.pool, &state.ledger, request).await?;
    Ok((StatusCode::CREATED, Json(SettlementView::from_row(&row))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    pub contract_id: Option<String>,
    #[serde(default = "default_true")]
    pub success: bool,
    pub reason: Option<String>,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Serialize)]
pub struct CompleteAnswer {
    /// `settled` (paid out) or `recorded` (released back to the consumer).
    pub status: &'static str,
    pub contract_id: String,
    pub settlement: SettlementView,
}

/// AEX-compatible completion: 200 `settled`/`recorded`, 404 without a hold, 409 for a repeat.
pub async fn complete(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CompleteBody>,
) -> Result<Json<CompleteAnswer>> {
    principal.require_service()?;
    let contract_id = require_text(body.contract_id, "contract_id")?;
    let resolution = if body.success {
        escrow::settle(&state.pool, &state.ledger, &contract_id).await?
    } else {
        escrow::release(&state.pool, &state.ledger, &contract_id, body.reason).await?
    };
    match resolution {
        Resolution::Applied(row) => {
            let status = if row.status == SettlementStatus::Settled { "settled" } else { "recorded" };
            Ok(Json(CompleteAnswer {
                status,
                contract_id: row.contract_id.clone(),
                settlement: SettlementView::from_row(&row),
            }))
        }
        Resolution::AlreadyDone(_) | Resolution::Conflict(_) => Err(Error::AlreadyResolved),
    }
}

pub async fn get_settlement(
    State(state): State<AppState>,
    principal: Principal,
    Path(contract_id): Path<String>,
) -> Result<Json<SettlementView>> {
    let row = settlements::get(&state.pool, &contract_id).await?.ok_or(Error::NotFound)?;
    let party =
        principal.tenant_id.as_deref().is_some_and(|t| t == row.consumer_tenant_id || t == row.provider_tenant_id);
    if !(party || principal.is_admin()) {
        return Err(Error::NotFound);
    }
    Ok(Json(SettlementView::from_row(&row)))
}
