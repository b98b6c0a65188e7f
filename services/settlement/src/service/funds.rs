//! Deposits and withdrawals against the
//! platform's external funding account, and balances.

use crate::domain::ledger::{Authority, TransferCode, TransferKind, TransferRequest};
use crate::error::{Error, Result};
use crate::ledger::{Ledger, TransferOutcome};
use crate::store::accounts::{self, AccountKind, AccountRow};
use aex_types::{Currency, Money, TransferId};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// Which way money crosses the platform boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    Deposit,
    Withdrawal,
}

impl Movement {
    pub fn as_str(self) -> &'static str {
        match self {
            Movement::Deposit => "deposit",
            Movement::Withdrawal => "withdrawal",
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            Movement::Deposit => "dep",
            Movement::Withdrawal => "wdr",
        }
    }
}

/// The transfer id of a movement: derived from the tenant and its idempotency key, so a
/// repeated key finds the original transfer; random without a key.
pub fn movement_transfer_id(movement: Movement, tenant_id: &str, idempotency_key: Option<&str>) -> String {
    match idempotency_key {
        Some(key) => {
            let mut hasher = Sha256::new();
            hasher.update(tenant_id.as_bytes());
            hasher.update([0]);
            hasher.update(movement.as_str().as_bytes());
            hasher.update([0]);
            hasher.update(key.as_bytes());
            let digest = hex::encode(hasher.finalize());
            format!("{}_{}", movement.id_prefix(), &digest[..40])
        }
        None => format!("{}_{}", movement.id_prefix(), TransferId::new().as_str().trim_start_matches("xfer_")),
    }
}

/// Moves `amount` between the tenant's account and the external funding account.
pub async fn move_funds(
    pool: &PgPool,
    ledger: &Ledger,
    tenant_id: &str,
    movement: Movement,
    amount: Money,
    reference: Option<String>,
    idempotency_key: Option<&str>,
) -> Result<TransferOutcome> {
    let currency = amount.currency();
    let tenant = accounts::get_or_create(pool, AccountKind::Tenant, Some(tenant_id), currency).await?;
    let funding = accounts::get_or_create(pool, AccountKind::ExternalFunding, None, currency).await?;
    let (debit, credit) = match movement {
        Movement::Deposit => (funding.id, tenant.id),
        Movement::Withdrawal => (tenant.id, funding.id),
    };
    let request = TransferRequest {
        id: movement_transfer_id(movement, tenant_id, idempotency_key),
        debit_account_id: debit,
        credit_account_id: credit,
        amount: amount.minor(),
        currency,
        code: movement.as_str().to_string(),
        reference,
        kind: TransferKind::Posted,
        linked: false,
        authority: Authority::Platform,
    };
    let outcome = ledger.submit(vec![request]).await?.into_iter().next().ok_or(Error::Unavailable)?;
    match outcome.code {
        TransferCode::Ok | TransferCode::Exists => Ok(outcome),
        TransferCode::ExistsWithDifferentFields => Err(Error::IdReused),
        TransferCode::InsufficientFunds => Err(Error::InsufficientFunds),
        other => Err(Error::TransferRefused(other.as_str())),
    }
}

/// The tenant's account in `currency` (created empty on first use).
pub async fn tenant_account(pool: &PgPool, tenant_id: &str, currency: Currency) -> Result<AccountRow> {
    Ok(accounts::get_or_create(pool, AccountKind::Tenant, Some(tenant_id), currency).await?)
}
