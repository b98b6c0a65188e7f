//! `GET /v1/accounts`, `/v1/accounts/{id}` and `/v1/accounts/{id}/entries`: the caller's own
//! ledger accounts and their entries. Another tenant's account answers 404.

use super::Page;
use crate::AppState;
use crate::error::{Error, Result};
use crate::http::transfers::TransferView;
use crate::store::accounts::{self, AccountRow};
use crate::store::transfers;
use aex_common::auth::Principal;
use aex_common::server::Json;
use aex_types::Money;
use axum::extract::{Path, Query, State};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct AccountView {
    pub id: String,
    pub tenant_id: Option<String>,
    pub currency: String,
    pub balance: String,
    pub balance_minor: i64,
    pub available_minor: i64,
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
    pub created_at: String,
}

impl AccountView {
    fn from_row(row: &AccountRow) -> Self {
        let currency = row.currency;
        let balance = row.credits_posted.saturating_sub(row.debits_posted);
        Self {
            id: row.id.clone(),
            tenant_id: row.tenant_id.clone(),
            currency: currency.code().to_string(),
            balance: Money::from_minor(balance, currency).to_decimal_string(),
            balance_minor: balance,
            available_minor: balance.saturating_sub(row.debits_pending),
            debits_pending: row.debits_pending,
            debits_posted: row.debits_posted,
            credits_pending: row.credits_pending,
            credits_posted: row.credits_posted,
            created_at: row.created_at.to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AccountList {
    pub accounts: Vec<AccountView>,
    pub total: usize,
}

#[derive(Debug, Serialize)]
pub struct EntryList {
    pub account_id: String,
    pub entries: Vec<TransferView>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

pub async fn list_accounts(State(state): State<AppState>, principal: Principal) -> Result<Json<AccountList>> {
    let tenant_id = principal.require_tenant()?;
    let rows = accounts::for_tenant(&state.pool, tenant_id).await?;
    let accounts: Vec<AccountView> = rows.iter().map(AccountView::from_row).collect();
    Ok(Json(AccountList { total: accounts.len(), accounts }))
}

async fn own_account(state: &AppState, principal: &Principal, id: &str) -> Result<AccountRow> {
    let tenant_id = principal.require_tenant()?;
    match accounts::get(&state.pool, id).await? {
        Some(row) if row.tenant_id.as_deref() == Some(tenant_id) => Ok(row),
        _ => Err(Error::NotFound),
    }
}

pub async fn get_account(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<AccountView>> {
    Ok(Json(AccountView::from_row(&own_account(&state, &principal, &id).await?)))
}

pub async fn list_entries(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<EntryList>> {
    let account = own_account(&state, &principal, &id).await?;
    let (limit, offset) = page.bounds()?;
    let rows = transfers::for_account(&state.pool, &account.id, limit, offset).await?;
    let total = transfers::count_for_account(&state.pool, &account.id).await?;
    let entries = rows.iter().map(|row| TransferView::from_row(row, &row.code)).collect();
    Ok(Json(EntryList { account_id: account.id, entries, total, limit, offset }))
}
