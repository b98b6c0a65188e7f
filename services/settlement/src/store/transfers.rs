//! Transfers: immutable once written, except a pending transfer's status when it is resolved.

use crate::domain::ledger::{PendingStatus, PendingTransfer};
use aex_types::{Currency, Timestamp};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;

#[derive(Debug, Clone, sqlx::FromRow, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransferRow {
    pub id: String,
    pub debit_account_id: String,
    pub credit_account_id: String,
    pub amount: i64,
    pub currency: Currency,
    pub code: String,
    pub reference: Option<String>,
    pub kind: String,
    pub pending_id: Option<String>,
    pub timeout_at: Option<Timestamp>,
    pub pending_status: Option<String>,
    pub fingerprint: String,
    pub journal_seq: i64,
    pub created_at: Timestamp,
}

impl TransferRow {
    pub fn as_pending(&self) -> Option<PendingTransfer> {
        Some(PendingTransfer {
            id: self.id.clone(),
            debit_account_id: self.debit_account_id.clone(),
            credit_account_id: self.credit_account_id.clone(),
            amount: self.amount,
            currency: self.currency,
            status: PendingStatus::parse(self.pending_status.as_deref()?)?,
            timeout_at_ms: self.timeout_at.map(|t| t.unix_millis()),
        })
    }
}

const SELECT: &str =
    "SELECT id, debit_account_id, credit_account_id, amount, currency, code, reference, kind, pending_id,
        timeout_at, pending_status, fingerprint, journal_seq, created_at FROM transfers";

/// The transfers among `ids` that already exist, with the tenant owning each debit account.
pub async fn by_ids(
    conn: &mut PgConnection,
    ids: &[String],
) -> Result<HashMap<String, (TransferRow, Option<String>)>, sqlx::Error> {
    let rows: Vec<ExistingRow> = sqlx::query_as(
        "SELECT t.id, t.debit_account_id, t.credit_account_id, t.amount, t.currency, t.code, t.reference, t.kind,
                t.pending_id, t.timeout_at, t.pending_status, t.fingerprint, t.journal_seq, t.created_at,
                a.tenant_id AS debit_tenant_id
         FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
         WHERE t.id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|row| (row.transfer.id.clone(), (row.transfer, row.debit_tenant_id))).collect())
}

#[derive(sqlx::FromRow)]
struct ExistingRow {
    #[sqlx(flatten)]
    transfer: TransferRow,
    debit_tenant_id: Option<String>,
}

/// The pending transfers among `ids`, locked until the batch commits.
pub async fn lock_pending(conn: &mut PgConnection, ids: &[String]) -> Result<Vec<TransferRow>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE id = ANY($1) AND kind = 'pending' ORDER BY id FOR UPDATE"
    )))
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// Inserts committed transfers in one statement.
pub async fn insert_many(conn: &mut PgConnection, rows: &[TransferRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    // Borrowed columns: a batch holds thousands of rows, and copying every string once more
    // only to encode it showed in the batcher's profile (docs/perf/ledger.md).
    let col = |f: fn(&TransferRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let opt = |f: fn(&TransferRow) -> Option<&str>| rows.iter().map(f).collect::<Vec<Option<&str>>>();
    sqlx::query(
        "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, currency, code, reference, kind,
                                pending_id, timeout_at, pending_status, fingerprint, journal_seq, created_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[],
                              $8::text[], $9::text[], $10::timestamptz[], $11::text[], $12::text[], $13::bigint[],
                              $14::timestamptz[])",
    )
    .bind(col(|r| r.id.as_str()))
    .bind(col(|r| r.debit_account_id.as_str()))
    .bind(col(|r| r.credit_account_id.as_str()))
    .bind(rows.iter().map(|r| r.amount).collect::<Vec<i64>>())
    .bind(col(|r| r.currency.code()))
    .bind(col(|r| r.code.as_str()))
    .bind(opt(|r| r.reference.as_deref()))
    .bind(col(|r| r.kind.as_str()))
    .bind(opt(|r| r.pending_id.as_deref()))
    .bind(rows.iter().map(|r| r.timeout_at).collect::<Vec<Option<Timestamp>>>())
    .bind(opt(|r| r.pending_status.as_deref()))
    .bind(col(|r| r.fingerprint.as_str()))
    .bind(rows.iter().map(|r| r.journal_seq).collect::<Vec<i64>>())
    .bind(rows.iter().map(|r| r.created_at).collect::<Vec<Timestamp>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records how pending transfers were resolved.
pub async fn set_pending_status(
    conn: &mut PgConnection,
    updates: &[(String, PendingStatus)],
) -> Result<(), sqlx::Error> {
    if updates.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = updates.iter().map(|(id, _)| id.as_str()).collect();
    let statuses: Vec<&str> = updates.iter().map(|(_, s)| s.as_str()).collect();
    sqlx::query(
        "UPDATE transfers t SET pending_status = u.status
         FROM unnest($1::text[], $2::text[]) AS u(id, status) WHERE t.id = u.id",
    )
    .bind(&ids)
    .bind(&statuses)
    .execute(conn)
    .await?;
    Ok(())
}

/// One transfer.
pub async fn get(pool: &PgPool, id: &str) -> Result<Option<TransferRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1"))).bind(id).fetch_optional(pool).await
}

/// Entries of one account, newest first.
pub async fn for_account(
    pool: &PgPool,
    account_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<TransferRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE debit_account_id = $1 OR credit_account_id = $1 ORDER BY journal_seq DESC LIMIT $2 OFFSET $3"
    )))
    .bind(account_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

/// How many entries an account has.
pub async fn count_for_account(pool: &PgPool, account_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM transfers WHERE debit_account_id = $1 OR credit_account_id = $1")
        .bind(account_id)
        .fetch_one(pool)
        .await
}

/// Pending transfers whose timeout has passed: (id, currency).
pub async fn lapsed_pending(pool: &PgPool, limit: i64) -> Result<Vec<(String, Currency)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, currency FROM transfers WHERE pending_status = 'pending' AND timeout_at <= now()
         ORDER BY timeout_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The transfers of one contract (hold, payout legs, release), in journal order.
pub async fn for_reference(pool: &PgPool, reference: &str) -> Result<Vec<TransferRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE reference = $1 ORDER BY journal_seq")))
        .bind(reference)
        .fetch_all(pool)
        .await
}

/// Entries touching any of a tenant's accounts, newest first, and their total count.
pub async fn for_tenant(
    pool: &PgPool,
    tenant_id: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<TransferRow>, i64), sqlx::Error> {
    let condition = "WHERE debit_account_id IN (SELECT id FROM accounts WHERE tenant_id = $1)
                        OR credit_account_id IN (SELECT id FROM accounts WHERE tenant_id = $1)";
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} {condition} ORDER BY journal_seq DESC LIMIT $2 OFFSET $3"
    )))
    .bind(tenant_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM transfers {condition}")))
        .bind(tenant_id)
        .fetch_one(pool)
        .await?;
    Ok((rows, total))
}
