//! `POST /v1/bids`, `GET /v1/work/{id}/bids` and the evaluator's
//! `GET /internal/v1/work/{id}/bids`. Bids are sealed: before the window closes nobody but the
//! bidder sees a price; after it, the owner sees all bids and each provider only its own.

use super::{http_url, known_id, required_text, storable_json};
use crate::AppState;
use crate::domain::work::WorkStatus;
use crate::error::{Error, Result};
use crate::http::work::visible_to;
use crate::service::{self, BidRequest};
use crate::store::bids::{self, BidRow};
use crate::store::providers;
use crate::store::work::{self, WorkRow};
use aex_common::auth::Principal;
use aex_common::server::Json;
use aex_types::{Money, Timestamp};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBid {
    pub work_id: Option<String>,
    pub provider_id: Option<String>,
    #[serde(default)]
    pub price: Value,
    pub price_breakdown: Option<Value>,
    pub confidence: Option<f64>,
    pub approach: Option<String>,
    pub estimated_latency_ms: Option<i64>,
    pub mvp_sample: Option<Value>,
    pub sla: Option<Sla>,
    pub a2a_endpoint: Option<String>,
    pub expires_at: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    pub max_latency_ms: Option<i64>,
    pub availability: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Received {
    pub bid_id: String,
    pub work_id: String,
    pub provider_id: String,
    pub status: String,
    pub replaced_bid_id: Option<String>,
    pub received_at: String,
}

/// A bid with its price: only for its own bidder, or for the owner after close.
#[derive(Debug, Serialize)]
pub struct BidView {
    pub bid_id: String,
    pub work_id: String,
    pub provider_id: String,
    pub provider_tenant_id: String,
    pub price: String,
    pub price_minor: i64,
    pub currency: String,
    pub price_breakdown: Option<Value>,
    pub confidence: f64,
    pub approach: String,
    pub estimated_latency_ms: i64,
    pub mvp_sample: Option<Value>,
    pub sla: Value,
    pub a2a_endpoint: String,
    pub expires_at: String,
    pub status: String,
    pub revision: i32,
    pub received_at: String,
}

impl BidView {
    fn from_row(row: &BidRow) -> Self {
        let currency = row.currency;
        Self {
            bid_id: row.id.clone(),
            work_id: row.work_id.clone(),
            provider_id: row.provider_id.clone(),
            provider_tenant_id: row.tenant_id.clone(),
            price: Money::from_minor(row.price_minor, currency).to_decimal_string(),
            price_minor: row.price_minor,
            currency: currency.code().to_string(),
            price_breakdown: row.price_breakdown.clone(),
            confidence: row.confidence,
            approach: row.approach.clone(),
            estimated_latency_ms: row.estimated_latency_ms,
            mvp_sample: row.mvp_sample.clone(),
            sla: row.sla.clone(),
            a2a_endpoint: row.a2a_endpoint.clone(),
            expires_at: row.expires_at.to_string(),
            status: row.status.clone(),
            revision: row.revision,
            received_at: row.received_at.to_string(),
        }
    }
}

fn unit_interval(value: Option<f64>, field: &str) -> Result<f64> {
    match value {
        Some(v) if (0.0..=1.0).contains(&v) => Ok(v),
        Some(_) => Err(Error::validation(format!("{field} must be between 0 and 1"))),
        None => Err(Error::validation(format!("{field} is required"))),
    }
}

/// The caller's provider: the named one if it is the caller's (else 404), or the caller's
/// only provider.
async fn bidding_provider(state: &AppState, tenant_id: &str, named: Option<String>) -> Result<String> {
    match named.filter(|p| !p.is_empty()) {
        Some(id) => match known_id(&id, "prov").ok().map(|()| id) {
            None => Err(Error::ProviderNotFound),
            Some(id) => match providers::get(&state.pool, &id).await? {
                Some(provider) if provider.tenant_id == tenant_id && provider.status == "ACTIVE" => Ok(provider.id),
                _ => Err(Error::ProviderNotFound),
            },
        },
        None => {
            let mut own = providers::for_tenant(&state.pool, tenant_id).await?;
            own.retain(|p| p.status == "ACTIVE");
            match own.len() {
                0 => Err(Error::ProviderNotFound),
                1 => Ok(own.remove(0).id),
                _ => Err(Error::validation("provider_id is required when the tenant has several providers")),
            }
        }
    }
}

pub async fn submit(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<SubmitBid>,
) -> Result<(StatusCode, Json<Received>)> {
    principal.require_scope("bids:submit")?;
    let tenant_id = principal.require_tenant()?;
    let work_id = required_text(body.work_id, "work_id", 64)?;
    known_id(&work_id, "work")?;
    if body.price.is_null() {
        return Err(Error::validation("price is required"));
    }
    let confidence = unit_interval(body.confidence, "confidence")?;
    let approach = required_text(body.approach, "approach", 10_000)?;
    let estimated_latency_ms = match body.estimated_latency_ms {
        Some(ms) if ms > 0 => ms,
        _ => return Err(Error::validation("estimated_latency_ms must be a positive integer")),
    };
    let sla = body.sla.ok_or(Error::validation("sla is required"))?;
    if sla.max_latency_ms.is_none_or(|ms| ms <= 0) {
        return Err(Error::validation("sla.max_latency_ms must be a positive integer"));
    }
    unit_interval(sla.availability, "sla.availability")?;
    let sla = serde_json::to_value(&sla).map_err(|_| Error::validation("sla is malformed"))?;
    let a2a_endpoint = http_url(&required_text(body.a2a_endpoint, "a2a_endpoint", 2048)?, "a2a_endpoint")?;
    let expires_at: Timestamp = required_text(body.expires_at, "expires_at", 64)?
        .parse()
        .map_err(|_| Error::validation("expires_at must be an RFC 3339 time"))?;
    if expires_at <= Timestamp::now() {
        return Err(Error::validation("expires_at must be in the future"));
    }
    for (field, value) in [("price_breakdown", &body.price_breakdown), ("mvp_sample", &body.mvp_sample)] {
        if let Some(value) = value {
            storable_json(value, field, 64 * 1024)?;
        }
    }
    let provider_id = bidding_provider(&state, tenant_id, body.provider_id).await?;
    let request = BidRequest {
        work_id,
        provider_id,
        tenant_id: tenant_id.to_string(),
        price: body.price,
        price_breakdown: body.price_breakdown,
        confidence,
        approach,
        estimated_latency_ms,
        mvp_sample: body.mvp_sample,
        sla,
        a2a_endpoint,
        expires_at,
    };
    let placed = service::place_bid(&state.pool, request).await?;
    Ok((
        StatusCode::CREATED,
        Json(Received {
            bid_id: placed.bid.id,
            work_id: placed.bid.work_id,
            provider_id: placed.bid.provider_id,
            status: placed.bid.status,
            replaced_bid_id: placed.replaced,
            received_at: placed.bid.received_at.to_string(),
        }),
    ))
}

#[derive(Debug, Serialize)]
pub struct BidList {
    pub work_id: String,
    pub work_status: String,
    pub bids: Vec<BidView>,
    pub total: usize,
}

fn bid_list(row: &WorkRow, bids: &[BidRow]) -> BidList {
    BidList {
        work_id: row.id.clone(),
        work_status: row.status.clone(),
        bids: bids.iter().map(BidView::from_row).collect(),
        total: bids.len(),
    }
}

/// The owner after close sees every bid (409 `BIDS_SEALED` before); another tenant sees only
/// its own bids, and 404 for work it cannot see.
pub async fn list_for_work(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<BidList>> {
    let tenant_id = principal.require_tenant()?;
    known_id(&id, "work")?;
    let row = work::get(&state.pool, &id).await?.ok_or(Error::NotFound)?;
    if row.tenant_id == tenant_id {
        if row.status == WorkStatus::Open.as_str() {
            return Err(Error::BidsSealed);
        }
        return Ok(Json(bid_list(&row, &bids::for_work(&state.pool, &row.id).await?)));
    }
    let own = bids::for_work_and_tenant(&state.pool, &row.id, tenant_id).await?;
    if own.is_empty() && !visible_to(&state, tenant_id, &row).await? {
        return Err(Error::NotFound);
    }
    Ok(Json(bid_list(&row, &own)))
}

/// For the evaluator: every sealed bid with its price, once the window has closed.
pub async fn list_internal(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<BidList>> {
    principal.require_service()?;
    known_id(&id, "work")?;
    let row = work::get(&state.pool, &id).await?.ok_or(Error::NotFound)?;
    if row.status == WorkStatus::Open.as_str() {
        return Err(Error::BidsSealed);
    }
    Ok(Json(bid_list(&row, &bids::for_work(&state.pool, &row.id).await?)))
}
