//! `GET /v1/usage` (the caller's contracts as consumer and provider) and
//! `GET /v1/usage/transactions` (ledger entries of all its accounts, newest first).

use super::Page;
use crate::AppState;
use crate::error::Result;
use crate::http::transfers::TransferView;
use crate::store::{settlements, transfers};
use aex_common::auth::Principal;
use aex_common::server::Json;
use axum::extract::{Query, State};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Usage {
    pub tenant_id: String,
    pub contracts_in_escrow: i64,
    pub contracts_paid: i64,
    pub spent_minor: i64,
    pub contracts_delivered: i64,
    pub earned_minor: i64,
}

pub async fn summary(State(state): State<AppState>, principal: Principal) -> Result<Json<Usage>> {
    let tenant_id = principal.require_tenant()?;
    let (held, paid, spent, delivered, earned) = settlements::usage(&state.pool, tenant_id).await?;
    Ok(Json(Usage {
        tenant_id: tenant_id.to_string(),
        contracts_in_escrow: held,
        contracts_paid: paid,
        spent_minor: spent,
        contracts_delivered: delivered,
        earned_minor: earned,
    }))
}

#[derive(Debug, Serialize)]
pub struct Transactions {
    pub transactions: Vec<TransferView>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

pub async fn transactions(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<Page>,
) -> Result<Json<Transactions>> {
    let tenant_id = principal.require_tenant()?;
    let (limit, offset) = page.bounds()?;
    let (rows, total) = transfers::for_tenant(&state.pool, tenant_id, limit, offset).await?;
    let transactions = rows.iter().map(|row| TransferView::from_row(row, &row.code)).collect();
    Ok(Json(Transactions { transactions, total, limit, offset }))
}
