//! Ledger accounts: created on first use, locked in id order for a batch, totals saved back.

use crate::domain::ledger::AccountState;
use aex_types::{AccountId, Currency, Timestamp};
use sqlx::{PgConnection, PgPool};

/// The kinds of account; platform kinds exist once per currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    Tenant,
    ExternalFunding,
    PlatformRevenue,
    ProtocolFees,
    Escrow,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Tenant => "tenant",
            AccountKind::ExternalFunding => "external_funding",
            AccountKind::PlatformRevenue => "platform_revenue",
            AccountKind::ProtocolFees => "protocol_fees",
            AccountKind::Escrow => "escrow",
        }
    }

    /// Only the external funding account may go below zero: it is where money enters.
    fn no_overdraft(self) -> bool {
        !matches!(self, AccountKind::ExternalFunding)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    pub id: String,
    pub kind: String,
    pub tenant_id: Option<String>,
    pub currency: Currency,
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
    pub no_overdraft: bool,
    pub created_at: Timestamp,
}

impl AccountRow {
    /// The in-memory form the ledger rules work on; `None` for an unknown currency code.
    pub fn state(&self) -> Option<AccountState> {
        Some(AccountState {
            id: self.id.clone(),
            tenant_id: self.tenant_id.clone(),
            currency: self.currency,
            debits_pending: self.debits_pending,
            debits_posted: self.debits_posted,
            credits_pending: self.credits_pending,
            credits_posted: self.credits_posted,
            no_overdraft: self.no_overdraft,
        })
    }
}

/// The account of `kind` for `tenant_id` (tenant accounts) or the platform, in `currency`,
/// created on first use.
pub async fn get_or_create(
    pool: &PgPool,
    kind: AccountKind,
    tenant_id: Option<&str>,
    currency: Currency,
) -> Result<AccountRow, sqlx::Error> {
    // Read first: the account exists on every call but a tenant's first, and an INSERT, even
    // one that conflicts, takes a transaction id and so a WAL flush at commit: a balance read
    // would cost a disk write.
    if let Some(account) = find_by_owner(pool, kind, tenant_id, currency).await? {
        return Ok(account);
    }
    sqlx::query(
        "INSERT INTO accounts (id, kind, tenant_id, currency, no_overdraft) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (kind, (COALESCE(tenant_id, '')), currency) DO NOTHING",
    )
    .bind(AccountId::new().as_str())
    .bind(kind.as_str())
    .bind(tenant_id)
    .bind(currency.code())
    .bind(kind.no_overdraft())
    .execute(pool)
    .await?;
    find_by_owner(pool, kind, tenant_id, currency).await?.ok_or(sqlx::Error::RowNotFound)
}

/// The account of `kind` for `tenant_id` (none for platform accounts) in `currency`.
async fn find_by_owner(
    pool: &PgPool,
    kind: AccountKind,
    tenant_id: Option<&str>,
    currency: Currency,
) -> Result<Option<AccountRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, tenant_id, currency, debits_pending, debits_posted, credits_pending, credits_posted,
                no_overdraft, created_at
         FROM accounts WHERE kind = $1 AND COALESCE(tenant_id, '') = COALESCE($2, '') AND currency = $3",
    )
    .bind(kind.as_str())
    .bind(tenant_id)
    .bind(currency.code())
    .fetch_optional(pool)
    .await
}

/// Locks the accounts a batch touches, always in id order so concurrent batches cannot deadlock.
pub async fn lock(conn: &mut PgConnection, ids: &[String]) -> Result<Vec<AccountRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, tenant_id, currency, debits_pending, debits_posted, credits_pending, credits_posted,
                no_overdraft, created_at
         FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// Writes back the totals of changed accounts.
pub async fn save_totals(conn: &mut PgConnection, states: &[&AccountState]) -> Result<(), sqlx::Error> {
    if states.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = states.iter().map(|s| s.id.as_str()).collect();
    let debits_pending: Vec<i64> = states.iter().map(|s| s.debits_pending).collect();
    let debits_posted: Vec<i64> = states.iter().map(|s| s.debits_posted).collect();
    let credits_pending: Vec<i64> = states.iter().map(|s| s.credits_pending).collect();
    let credits_posted: Vec<i64> = states.iter().map(|s| s.credits_posted).collect();
    sqlx::query(
        "UPDATE accounts a
         SET debits_pending = u.dp, debits_posted = u.dpo, credits_pending = u.cp, credits_posted = u.cpo
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(id, dp, dpo, cp, cpo)
         WHERE a.id = u.id",
    )
    .bind(&ids)
    .bind(&debits_pending)
    .bind(&debits_posted)
    .bind(&credits_pending)
    .bind(&credits_posted)
    .execute(conn)
    .await?;
    Ok(())
}

/// One account, if it exists.
pub async fn get(pool: &PgPool, id: &str) -> Result<Option<AccountRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, tenant_id, currency, debits_pending, debits_posted, credits_pending, credits_posted,
                no_overdraft, created_at
         FROM accounts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// A tenant's accounts, oldest first.
pub async fn for_tenant(pool: &PgPool, tenant_id: &str) -> Result<Vec<AccountRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, tenant_id, currency, debits_pending, debits_posted, credits_pending, credits_posted,
                no_overdraft, created_at
         FROM accounts WHERE tenant_id = $1 ORDER BY created_at, id",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await
}

/// Sum of posted balances over every account: zero while money is conserved.
pub async fn total_posted_balance(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let (total,): (Option<i64>,) =
        sqlx::query_as("SELECT (sum(credits_posted::numeric) - sum(debits_posted::numeric))::bigint FROM accounts")
            .fetch_one(pool)
            .await?;
    Ok(total.unwrap_or(0))
}
