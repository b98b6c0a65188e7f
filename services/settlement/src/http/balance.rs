//! `GET /v1/balance`: the caller's posted, available and held funds in one currency.

use super::parse_currency;
use crate::AppState;
use crate::error::Result;
use crate::service;
use aex_common::auth::Principal;
use aex_common::server::Json;
use aex_types::{Currency, Money};
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
pub struct BalanceQuery {
    pub currency: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BalanceResponse {
    pub tenant_id: String,
    pub balance: String,
    pub balance_minor: i64,
    pub available: String,
    pub available_minor: i64,
    pub held: String,
    pub held_minor: i64,
    pub currency: Currency,
}

pub async fn get_balance(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<BalanceQuery>,
) -> Result<Json<BalanceResponse>> {
    let tenant_id = principal.require_tenant()?;
    let currency = parse_currency(query.currency.as_deref())?;
    let account = service::tenant_account(&state.pool, tenant_id, currency).await?;
    // Tenant accounts never go negative and totals fit i64 (database checks), so these hold.
    let balance = account.credits_posted.saturating_sub(account.debits_posted);
    let held = account.debits_pending;
    let available = balance.saturating_sub(held);
    let text = |minor| Money::from_minor(minor, currency).to_decimal_string();
    Ok(Json(BalanceResponse {
        tenant_id: tenant_id.to_string(),
        balance: text(balance),
        balance_minor: balance,
        available: text(available),
        available_minor: available,
        held: text(held),
        held_minor: held,
        currency,
    }))
}
