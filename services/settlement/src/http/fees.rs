//! `GET /v1/fees/policy` (the fee policy in force) and `GET /v1/fees/tiers/{provider_id}`
//! (a provider's tier and rolling 30-day volume).

use super::parse_currency;
use crate::AppState;
use crate::domain::fees::FeePolicy;
use crate::error::{Error, Result};
use crate::store::settlements;
use aex_common::auth::Principal;
use aex_common::server::Json;
use aex_types::Money;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

pub async fn policy() -> Json<FeePolicy> {
    Json(FeePolicy::current())
}

#[derive(Debug, Deserialize)]
pub struct TierQuery {
    pub currency: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TierView {
    pub provider_id: String,
    pub currency: String,
    pub tier: &'static str,
    pub volume_30d: String,
    pub volume_30d_minor: i64,
    pub protocol_fee_bps: u32,
    pub protocol_fee_fixed_minor: i64,
    pub next_tier: Option<&'static str>,
    pub next_tier_volume_minor: Option<i64>,
    pub fee_policy_version: &'static str,
}

pub async fn provider_tier(
    State(state): State<AppState>,
    principal: Principal,
    Path(provider_id): Path<String>,
    Query(query): Query<TierQuery>,
) -> Result<Json<TierView>> {
    let owner = settlements::provider_tenant(&state.pool, &provider_id).await?;
    // A provider without settled history is simply at the entry tier; with history, only its
    // own tenant (or an operator) sees its volume.
    if owner.is_some() && owner.as_deref() != principal.tenant_id.as_deref() && !principal.is_admin() {
        return Err(Error::NotFound);
    }
    let currency = parse_currency(query.currency.as_deref())?;
    let volume = settlements::provider_volume_30d(&state.pool, &provider_id, currency, "").await?;
    let policy = FeePolicy::current();
    let tier = policy.tier_for(volume).clone();
    let next = policy.protocol_fee_tiers.iter().rev().find(|t| t.min_volume_30d_minor > volume);
    Ok(Json(TierView {
        provider_id,
        currency: currency.code().to_string(),
        tier: tier.tier,
        volume_30d: Money::from_minor(volume, currency).to_decimal_string(),
        volume_30d_minor: volume,
        protocol_fee_bps: tier.bps,
        protocol_fee_fixed_minor: tier.fixed_minor,
        next_tier: next.map(|t| t.tier),
        next_tier_volume_minor: next.map(|t| t.min_volume_30d_minor),
        fee_policy_version: policy.version,
    }))
}
