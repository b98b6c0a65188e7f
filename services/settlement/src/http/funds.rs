//! `POST /v1/deposits` and `POST /v1/withdrawals`: money in from, and out to, the tenant's
//! external account. `Idempotency-Key` makes a retry return the original transaction.

use super::{parse_amount, parse_currency};
use crate::AppState;
use crate::error::{Error, Result};
use crate::http::transfers::TransferView;
use crate::service::{self, Movement};
use aex_common::auth::Principal;
use aex_common::server::Json;
use aex_common::server::input::single_line;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundsRequest {
    #[serde(default)]
    pub amount: Value,
    pub currency: Option<String>,
    pub payment_reference: Option<String>,
}

/// The `Idempotency-Key` header, if present: 1 to 255 visible ASCII characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().map_err(|_| Error::validation("Idempotency-Key must be visible ASCII"))?;
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::validation("Idempotency-Key must be 1 to 255 visible ASCII characters"));
    }
    Ok(Some(key.to_string()))
}

pub async fn deposit(
    state: State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Json<FundsRequest>,
) -> Result<(StatusCode, Json<TransferView>)> {
    move_funds(state, principal, headers, body, Movement::Deposit).await
}

pub async fn withdraw(
    state: State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Json<FundsRequest>,
) -> Result<(StatusCode, Json<TransferView>)> {
    move_funds(state, principal, headers, body, Movement::Withdrawal).await
}

async fn move_funds(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Json(body): Json<FundsRequest>,
    movement: Movement,
) -> Result<(StatusCode, Json<TransferView>)> {
    principal.require_scope("billing:write")?;
    let tenant_id = principal.require_tenant()?;
    let key = idempotency_key(&headers)?;
    let currency = parse_currency(body.currency.as_deref())?;
    let amount = parse_amount(&body.amount, currency, "amount")?;
    if let Some(reference) = &body.payment_reference {
        single_line(reference, "payment_reference", 256)?;
    }
    let outcome = service::move_funds(
        &state.pool,
        &state.ledger,
        tenant_id,
        movement,
        amount,
        body.payment_reference,
        key.as_deref(),
    )
    .await?;
    let transfer = outcome.transfer.ok_or(Error::Unavailable)?;
    Ok((StatusCode::CREATED, Json(TransferView::from_row(&transfer, movement.as_str()))))
}
