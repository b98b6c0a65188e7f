//! `POST /v1/transfers`: one transfer, or a batch of up to 8189 answered item by item in
//! request order. The caller can only debit its own accounts and credit tenant accounts.
//!
//! Result codes and their precedence are those of [`crate::domain::ledger::TransferCode`];
//! an account the caller may not use answers as not found, so existence does not leak.

use super::parse_amount;
use crate::AppState;
use crate::domain::ledger::{Authority, TransferCode, TransferKind, TransferRequest};
use crate::error::{Error, Result};
use crate::ledger::MAX_BATCH;
use crate::store::transfers::TransferRow;
use aex_common::auth::Principal;
use aex_common::server::input::single_line;
use aex_common::server::{ApiError, Json};
use aex_types::{Currency, Money, Timestamp};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A committed transfer on the wire.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TransferView {
    pub id: String,
    /// AEX name for the id of deposits and withdrawals.
    pub transaction_id: String,
    #[serde(rename = "type")]
    pub kind_label: String,
    pub status: String,
    pub debit_account_id: String,
    pub credit_account_id: String,
    pub amount: String,
    pub amount_minor: i64,
    pub currency: String,
    pub code: String,
    pub reference: Option<String>,
    pub kind: String,
    pub pending_id: Option<String>,
    pub pending_status: Option<String>,
    pub timeout_at: Option<String>,
    pub journal_seq: i64,
    pub created_at: String,
}

impl TransferView {
    pub fn from_row(row: &TransferRow, label: &str) -> Self {
        let currency = row.currency;
        let timestamp = |t: Timestamp| t.to_string();
        Self {
            id: row.id.clone(),
            transaction_id: row.id.clone(),
            kind_label: label.to_string(),
            status: match row.pending_status.as_deref() {
                Some(status) => status.to_string(),
                None => "completed".to_string(),
            },
            debit_account_id: row.debit_account_id.clone(),
            credit_account_id: row.credit_account_id.clone(),
            amount: Money::from_minor(row.amount, currency).to_decimal_string(),
            amount_minor: row.amount,
            currency: currency.code().to_string(),
            code: row.code.clone(),
            reference: row.reference.clone(),
            kind: row.kind.clone(),
            pending_id: row.pending_id.clone(),
            pending_status: row.pending_status.clone(),
            timeout_at: row.timeout_at.map(timestamp),
            journal_seq: row.journal_seq,
            created_at: timestamp(row.created_at),
        }
    }
}

/// One requested transfer; as the whole body it may instead carry `transfers` alone (a batch).
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferItem {
    /// Only in an object body, and then alone: the batch.
    #[serde(default)]
    transfers: Option<Vec<TransferItem>>,
    /// Required; checked with the item's other fields so the error names its place.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub debit_account_id: Option<String>,
    #[serde(default)]
    pub credit_account_id: Option<String>,
    #[serde(default)]
    pub amount: Value,
    pub currency: Option<String>,
    pub code: Option<String>,
    pub reference: Option<String>,
    /// Reserve instead of moving (two-phase).
    #[serde(default)]
    pub pending: bool,
    /// For a pending transfer: seconds until it lapses.
    pub timeout_seconds: Option<u32>,
    pub post_pending_id: Option<String>,
    pub void_pending_id: Option<String>,
    /// This transfer and the next take effect together or not at all.
    #[serde(default)]
    pub linked: bool,
}

/// The body of `POST /v1/transfers`: one transfer object, `{"transfers": [...]}`, or a bare
/// array of transfers. Decoded in one pass straight into the items (no intermediate JSON
/// tree), with serde's path in any error (`transfers[3].amount: ...`).
#[derive(Debug)]
pub enum TransfersBody {
    One(Box<TransferItem>),
    Many(Vec<TransferItem>),
}

impl<'de> Deserialize<'de> for TransfersBody {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TransfersBody;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a transfer object, {\"transfers\": [...]}, or an array of transfers")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> std::result::Result<TransfersBody, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq)).map(TransfersBody::Many)
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> std::result::Result<TransfersBody, A::Error> {
                use serde::de::Error as _;
                let mut item = TransferItem::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                match item.transfers.take() {
                    None => Ok(TransfersBody::One(Box::new(item))),
                    Some(transfers) if item == TransferItem::default() => Ok(TransfersBody::Many(transfers)),
                    Some(_) => Err(A::Error::custom("a batch body has `transfers` and nothing else")),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// One item's answer; the committed transfer is summarised by its journal position (the full
/// record is at `GET /v1/accounts/{id}/entries`), which keeps an 8189-item answer small.
#[derive(Debug, Serialize)]
pub struct ItemResult {
    pub index: usize,
    pub id: String,
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_seq: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct BatchResponse {
    pub results: Vec<ItemResult>,
    pub committed: usize,
    pub failed: usize,
}

pub async fn create_transfers(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<TransfersBody>,
) -> Result<Response> {
    principal.require_scope("billing:write")?;
    let tenant_id = principal.require_tenant()?.to_string();
    let (items, single) = match body {
        TransfersBody::One(item) => (vec![*item], true),
        TransfersBody::Many(items) => (items, false),
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(Error::BatchSize);
    }
    let mut parsed = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        parsed.push(to_request(item, index, &tenant_id)?);
    }
    let outcomes = state.ledger.submit(parsed).await?;

    if single {
        let outcome = outcomes.into_iter().next().ok_or(Error::Unavailable)?;
        return Ok(match (outcome.code, outcome.transfer) {
            (TransferCode::Ok | TransferCode::Exists, Some(row)) => {
                (StatusCode::CREATED, Json(TransferView::from_row(&row, "transfer"))).into_response()
            }
            (code, _) => single_failure(code).into_response(),
        });
    }
    let results: Vec<ItemResult> = outcomes
        .into_iter()
        .enumerate()
        .map(|(index, outcome)| ItemResult {
            index,
            id: outcome.id,
            result: outcome.code.as_str(),
            journal_seq: outcome.transfer.as_ref().map(|row| row.journal_seq),
        })
        .collect();
    let committed = results.iter().filter(|r| r.journal_seq.is_some()).count();
    let failed = results.len() - committed;
    Ok((StatusCode::OK, Json(BatchResponse { results, committed, failed })).into_response())
}

fn single_failure(code: TransferCode) -> ApiError {
    let status = match code {
        TransferCode::InsufficientFunds => StatusCode::PAYMENT_REQUIRED,
        TransferCode::ExistsWithDifferentFields => StatusCode::CONFLICT,
        TransferCode::DebitAccountNotFound
        | TransferCode::CreditAccountNotFound
        | TransferCode::PendingTransferNotFound => StatusCode::NOT_FOUND,
        TransferCode::PendingTransferAlreadyPosted
        | TransferCode::PendingTransferAlreadyVoided
        | TransferCode::PendingTransferExpired => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, code.as_str(), format!("transfer refused: {}", code.as_str()))
}

fn to_request(item: TransferItem, index: usize, tenant_id: &str) -> Result<TransferRequest> {
    let field = |name: &str| format!("transfers[{index}].{name}");
    if item.transfers.is_some() {
        return Err(Error::validation(format!("{}: a batch item cannot hold a batch", field("transfers"))));
    }
    let id = item.id.unwrap_or_default();
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::validation(format!("{} must be 1 to 128 visible ASCII characters", field("id"))));
    }
    let currency: Currency = match item.currency.as_deref() {
        Some(code) => code.parse().map_err(|_| Error::UnknownCurrency(code.to_string()))?,
        None => Currency::DEFAULT,
    };
    let resolution = match (item.post_pending_id, item.void_pending_id) {
        (Some(_), Some(_)) => {
            return Err(Error::validation(format!(
                "{}: post_pending_id and void_pending_id exclude each other",
                field("id")
            )));
        }
        (Some(id), None) => Some(TransferKind::PostPending { pending_id: id }),
        (None, Some(id)) => Some(TransferKind::VoidPending { pending_id: id }),
        (None, None) => None,
    };
    let amount = match (&resolution, &item.amount) {
        (Some(TransferKind::VoidPending { .. }), Value::Null) => 0,
        _ => parse_amount(&item.amount, currency, "amount")?.minor(),
    };
    let kind = match resolution {
        Some(kind) => kind,
        None if item.pending => {
            let timeout_at_ms = item
                .timeout_seconds
                .map(|s| Timestamp::now().unix_millis().saturating_add(i64::from(s).saturating_mul(1000)));
            TransferKind::Pending { timeout_at_ms }
        }
        None => TransferKind::Posted,
    };
    let resolving = kind.pending_id().is_some();
    let account = |value: Option<String>, name: &str| -> Result<String> {
        match value {
            Some(id) if !id.is_empty() => Ok(id),
            _ if resolving => Ok(String::new()),
            _ => Err(Error::validation(format!("{} is required", field(name)))),
        }
    };
    let code = item.code.unwrap_or_else(|| "transfer".to_string());
    if code.is_empty() {
        return Err(Error::validation(format!("{} must be 1 to 64 characters", field("code"))));
    }
    single_line(&code, &field("code"), 64)?;
    if let Some(reference) = &item.reference {
        single_line(reference, &field("reference"), 256)?;
    }
    Ok(TransferRequest {
        id,
        debit_account_id: account(item.debit_account_id, "debit_account_id")?,
        credit_account_id: account(item.credit_account_id, "credit_account_id")?,
        amount,
        currency,
        code,
        reference: item.reference,
        kind,
        linked: item.linked,
        authority: Authority::Tenant(tenant_id.to_string()),
    })
}
