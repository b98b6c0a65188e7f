//! Contract escrow: the consumer's funds are held at award, then posted as provider payout +
//! platform fee + protocol fee when the contract succeeds, or released when it fails, is
//! cancelled or expires. Each step happens exactly once however often it is asked for: the
//! transfer ids derive from the contract id, and the settlement record and its event are
//! written in the same transaction as the transfers (a [`BatchEffect`]).

use crate::domain::escrow::SettlementStatus;
use crate::domain::fees::{FeeError, FeePolicy, FeeSplit};
use crate::domain::ledger::{Authority, TransferCode, TransferKind, TransferRequest};
use crate::error::{Error, Result};
use crate::ledger::{BatchEffect, Ledger, TransferOutcome};
use crate::store::accounts::{self, AccountKind};
use crate::store::settlements::{self, NewHold, Payout, SettlementRow};
use aex_api::events as subjects;
use aex_common::events::outbox::{self, NewEvent};
use aex_types::Money;
use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;

const SOURCE: &str = "settlement";

/// A hold to place for a newly awarded contract.
#[derive(Debug, Clone)]
pub struct HoldRequest {
    pub contract_id: String,
    pub work_id: Option<String>,
    pub category: Option<String>,
    pub consumer_tenant_id: String,
    pub provider_tenant_id: String,
    pub provider_id: String,
    pub price: Money,
    /// Unix milliseconds after which an unresolved hold lapses back to the consumer.
    pub expires_at_ms: Option<i64>,
}

fn hold_id(contract_id: &str) -> String {
    format!("hold_{contract_id}")
}

fn split_for(pool_volume: i64, price: Money) -> Result<FeeSplit> {
    FeePolicy::current().split(price, pool_volume).map_err(|error| match error {
        FeeError::BelowMinimumFee { .. } => Error::BelowMinimumFee,
        FeeError::NonPositivePrice => {
            Error::InvalidAmount { code: "INVALID_AMOUNT", message: "price must be positive".into() }
        }
        FeeError::Overflow => Error::InvalidAmount { code: "AMOUNT_OVERFLOW", message: "price too large".into() },
    })
}

struct RecordHold(NewHold);

impl BatchEffect for RecordHold {
    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        _outcomes: &'a [TransferOutcome],
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let hold = &self.0;
            settlements::insert_held(conn, hold).await?;
            let data = subjects::HoldPlaced {
                contract_id: hold.contract_id.clone(),
                consumer_tenant_id: hold.consumer_tenant_id.clone(),
                provider_id: hold.provider_id.clone(),
                amount_minor: hold.price_minor,
                currency: hold.currency.code().to_string(),
            };
            let event = NewEvent::new(subjects::SETTLEMENT_HOLD_PLACED, &data).tenant(&hold.consumer_tenant_id);
            outbox::enqueue(conn, SOURCE, event).await.map_err(outbox_error)?;
            Ok(())
        })
    }
}

/// Whether every transfer of a job took effect in this batch (not before, not refused).
fn applied_now(outcomes: &[TransferOutcome]) -> bool {
    outcomes.iter().all(|o| o.code == TransferCode::Ok)
}

fn outbox_error(error: aex_common::events::EventError) -> sqlx::Error {
    match error {
        aex_common::events::EventError::Database(e) => e,
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

/// Places the escrow hold for a contract (idempotent by contract id).
pub async fn place_hold(pool: &PgPool, ledger: &Ledger, request: HoldRequest) -> Result<SettlementRow> {
    let currency = request.price.currency();
    if let Some(existing) = settlements::get(pool, &request.contract_id).await? {
        return same_terms(existing, &request);
    }
    // A price the fees would exceed is refused at award, with the provider's current tier.
    let volume = settlements::provider_volume_30d(pool, &request.provider_id, currency, &request.contract_id).await?;
    split_for(volume, request.price)?;

    let consumer =
        accounts::get_or_create(pool, AccountKind::Tenant, Some(&request.consumer_tenant_id), currency).await?;
    let escrow = accounts::get_or_create(pool, AccountKind::Escrow, None, currency).await?;
    accounts::get_or_create(pool, AccountKind::Tenant, Some(&request.provider_tenant_id), currency).await?;

    let hold = TransferRequest {
        id: hold_id(&request.contract_id),
        debit_account_id: consumer.id,
        credit_account_id: escrow.id,
        amount: request.price.minor(),
        currency,
        code: "escrow_hold".into(),
        reference: Some(request.contract_id.clone()),
        kind: TransferKind::Pending { timeout_at_ms: request.expires_at_ms },
        linked: false,
        authority: Authority::Platform,
    };
    let record = RecordHold(NewHold {
        contract_id: request.contract_id.clone(),
        work_id: request.work_id.clone(),
        category: request.category.clone(),
        consumer_tenant_id: request.consumer_tenant_id.clone(),
        provider_tenant_id: request.provider_tenant_id.clone(),
        provider_id: request.provider_id.clone(),
        currency,
        price_minor: request.price.minor(),
        hold_transfer_id: hold.id.clone(),
    });
    let outcome = ledger.submit_with_effect(vec![hold], Some(Arc::new(record))).await?;
    match outcome.first().map(|o| o.code) {
        Some(TransferCode::Ok | TransferCode::Exists) => {
            let row = settlements::get(pool, &request.contract_id).await?.ok_or(Error::Unavailable)?;
            same_terms(row, &request)
        }
        Some(TransferCode::InsufficientFunds) => Err(Error::InsufficientFunds),
        Some(TransferCode::ExistsWithDifferentFields) => Err(Error::HoldConflict),
        Some(other) => Err(Error::TransferRefused(other.as_str())),
        None => Err(Error::Unavailable),
    }
}

fn same_terms(row: SettlementRow, request: &HoldRequest) -> Result<SettlementRow> {
    let same = row.consumer_tenant_id == request.consumer_tenant_id
        && row.provider_id == request.provider_id
        && row.price_minor == request.price.minor()
        && row.currency == request.price.currency();
    if same { Ok(row) } else { Err(Error::HoldConflict) }
}

/// What became of a contract's escrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Done now.
    Applied(SettlementRow),
    /// Done before: no new effect.
    AlreadyDone(SettlementRow),
    /// The escrow took the other path earlier (released before a late success, or the reverse).
    Conflict(SettlementRow),
}

struct RecordPayout {
    row: SettlementRow,
    split: FeeSplit,
    volume: i64,
}

impl BatchEffect for RecordPayout {
    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        outcomes: &'a [TransferOutcome],
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let journal_seq =
                outcomes.iter().filter_map(|o| o.transfer.as_ref()).map(|t| t.journal_seq).max().unwrap_or(0);
            let payout = Payout {
                fee_policy_version: FeePolicy::current().version.to_string(),
                tier: self.split.tier.to_string(),
                volume_30d_minor: self.volume,
                platform_fee_minor: self.split.platform_fee.minor(),
                protocol_fee_minor: self.split.protocol_fee.minor(),
                payout_minor: self.split.net.minor(),
                journal_seq,
            };
            if !settlements::mark_settled(conn, &self.row.contract_id, &payout).await? {
                return Err(sqlx::Error::Protocol(format!("settlement {} was not held", self.row.contract_id)));
            }
            let row = &self.row;
            let data = aex_api::events::SettlementCompleted {
                contract_id: row.contract_id.clone(),
                work_id: row.work_id.clone(),
                category: row.category.clone(),
                consumer_tenant_id: row.consumer_tenant_id.clone(),
                provider_tenant_id: row.provider_tenant_id.clone(),
                provider_id: row.provider_id.clone(),
                currency: row.currency.code().to_string(),
                price_minor: row.price_minor,
                platform_fee_minor: payout.platform_fee_minor,
                protocol_fee_minor: payout.protocol_fee_minor,
                payout_minor: payout.payout_minor,
                tier: payout.tier.clone(),
                journal_seq,
            };
            let event = NewEvent::new(subjects::SETTLEMENT_COMPLETED, &data).tenant(&row.provider_tenant_id);
            outbox::enqueue(conn, SOURCE, event).await.map_err(outbox_error)?;
            Ok(())
        })
    }
}

/// Pays out a successful contract's escrow: one linked chain that posts the hold into escrow
/// and splits it into payout, platform fee and protocol fee.
pub async fn settle(pool: &PgPool, ledger: &Ledger, contract_id: &str) -> Result<Resolution> {
    let row = settlements::get(pool, contract_id).await?.ok_or(Error::HoldNotFound)?;
    match row.status {
        SettlementStatus::Settled => return Ok(Resolution::AlreadyDone(row)),
        SettlementStatus::Released => return Ok(Resolution::Conflict(row)),
        SettlementStatus::Held => {}
    }
    let currency = row.currency;
    let price = Money::from_minor(row.price_minor, currency);
    let volume = settlements::provider_volume_30d(pool, &row.provider_id, currency, contract_id).await?;
    let split = split_for(volume, price)?;

    let provider = accounts::get_or_create(pool, AccountKind::Tenant, Some(&row.provider_tenant_id), currency).await?;
    let escrow = accounts::get_or_create(pool, AccountKind::Escrow, None, currency).await?;
    let revenue = accounts::get_or_create(pool, AccountKind::PlatformRevenue, None, currency).await?;
    let protocol = accounts::get_or_create(pool, AccountKind::ProtocolFees, None, currency).await?;

    let leg = |suffix: &str, credit: &str, amount: Money, kind: TransferKind, code: &str| TransferRequest {
        id: format!("settle_{contract_id}_{suffix}"),
        debit_account_id: if matches!(kind, TransferKind::PostPending { .. }) {
            String::new()
        } else {
            escrow.id.clone()
        },
        credit_account_id: credit.to_string(),
        amount: amount.minor(),
        currency,
        code: code.to_string(),
        reference: Some(contract_id.to_string()),
        kind,
        linked: true,
        authority: Authority::Platform,
    };
    let mut chain = vec![leg(
        "post",
        "",
        price,
        TransferKind::PostPending { pending_id: row.hold_transfer_id.clone() },
        "escrow_post",
    )];
    for (suffix, account, amount, code) in [
        ("payout", &provider.id, split.net, "provider_payout"),
        ("platform", &revenue.id, split.platform_fee, "platform_fee"),
        ("protocol", &protocol.id, split.protocol_fee, "protocol_fee"),
    ] {
        // A zero part (a payout of exactly nothing) has no transfer.
        if amount.is_positive() {
            chain.push(leg(suffix, account, amount, TransferKind::Posted, code));
        }
    }
    if let Some(last) = chain.last_mut() {
        last.linked = false;
    }
    let effect = RecordPayout { row: row.clone(), split, volume };
    let outcomes = ledger.submit_with_effect(chain, Some(Arc::new(effect))).await?;
    resolve(pool, contract_id, &outcomes).await
}

struct RecordRelease {
    row: SettlementRow,
    reason: Option<String>,
}

impl BatchEffect for RecordRelease {
    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        _outcomes: &'a [TransferOutcome],
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            if !settlements::mark_released(conn, &self.row.contract_id, self.reason.as_deref()).await? {
                return Err(sqlx::Error::Protocol(format!("settlement {} was not held", self.row.contract_id)));
            }
            let row = &self.row;
            let data = aex_api::events::SettlementReleased {
                contract_id: row.contract_id.clone(),
                consumer_tenant_id: row.consumer_tenant_id.clone(),
                provider_id: row.provider_id.clone(),
                amount_minor: row.price_minor,
                currency: row.currency.code().to_string(),
                reason: self.reason.clone(),
            };
            let event = NewEvent::new(subjects::SETTLEMENT_RELEASED, &data).tenant(&row.consumer_tenant_id);
            outbox::enqueue(conn, SOURCE, event).await.map_err(outbox_error)?;
            Ok(())
        })
    }
}

/// Returns a failed, cancelled or expired contract's escrow to the consumer.
pub async fn release(pool: &PgPool, ledger: &Ledger, contract_id: &str, reason: Option<String>) -> Result<Resolution> {
    let row = settlements::get(pool, contract_id).await?.ok_or(Error::HoldNotFound)?;
    match row.status {
        SettlementStatus::Released => return Ok(Resolution::AlreadyDone(row)),
        SettlementStatus::Settled => return Ok(Resolution::Conflict(row)),
        SettlementStatus::Held => {}
    }
    let currency = row.currency;
    let void = TransferRequest {
        id: format!("release_{contract_id}"),
        debit_account_id: String::new(),
        credit_account_id: String::new(),
        amount: 0,
        currency,
        code: "escrow_release".into(),
        reference: Some(contract_id.to_string()),
        kind: TransferKind::VoidPending { pending_id: row.hold_transfer_id.clone() },
        linked: false,
        authority: Authority::Platform,
    };
    let effect = RecordRelease { row, reason };
    let outcomes = ledger.submit_with_effect(vec![void], Some(Arc::new(effect))).await?;
    resolve(pool, contract_id, &outcomes).await
}

async fn resolve(pool: &PgPool, contract_id: &str, outcomes: &[TransferOutcome]) -> Result<Resolution> {
    let row = settlements::get(pool, contract_id).await?.ok_or(Error::HoldNotFound)?;
    if applied_now(outcomes) {
        return Ok(Resolution::Applied(row));
    }
    if outcomes.iter().all(|o| o.code.is_success()) {
        return Ok(Resolution::AlreadyDone(row));
    }
    // The hold was resolved the other way (or lapsed) between our read and the batch.
    let refused = outcomes.iter().map(|o| o.code).find(|c| !c.is_success() && *c != TransferCode::LinkedTransferFailed);
    match refused {
        Some(
            TransferCode::PendingTransferAlreadyPosted
            | TransferCode::PendingTransferAlreadyVoided
            | TransferCode::PendingTransferExpired,
        ) => Ok(Resolution::Conflict(row)),
        Some(code) => Err(Error::TransferRefused(code.as_str())),
        None => Err(Error::Unavailable),
    }
}
