//! Receipt signing keys and issued receipts.

use sqlx::{PgConnection, PgPool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningKeyRow {
    pub version: i32,
    pub public_key_pem: String,
    pub sealed_private_key: Vec<u8>,
    pub key_protection: String,
    pub status: String,
}

/// Serializes key creation across replicas for the rest of the transaction.
pub async fn lock_key_creation(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('aex-settlement-receipt-key'))").execute(conn).await?;
    Ok(())
}

pub async fn active_key(conn: &mut PgConnection) -> Result<Option<SigningKeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT version, public_key_pem, sealed_private_key, key_protection, status FROM signing_keys WHERE status = 'active'",
    )
    .fetch_optional(conn)
    .await
}

/// Marks the active version retired (it keeps verifying, never signs again).
pub async fn retire_active(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE signing_keys SET status = 'retired' WHERE status = 'active'").execute(conn).await?;
    Ok(())
}

pub async fn insert_key(conn: &mut PgConnection, key: &SigningKeyRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO signing_keys (version, public_key_pem, sealed_private_key, key_protection, status)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(key.version)
    .bind(&key.public_key_pem)
    .bind(&key.sealed_private_key)
    .bind(&key.key_protection)
    .bind(&key.status)
    .execute(conn)
    .await?;
    Ok(())
}

/// Public keys of every version: (version, PEM, status).
pub async fn public_keys(pool: &PgPool) -> Result<Vec<(i32, String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT version, public_key_pem, status FROM signing_keys ORDER BY version").fetch_all(pool).await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReceiptRow {
    pub contract_id: String,
    pub body: String,
    pub signature: String,
    pub key_version: i32,
}

pub async fn get(pool: &PgPool, contract_id: &str) -> Result<Option<ReceiptRow>, sqlx::Error> {
    sqlx::query_as("SELECT contract_id, body, signature, key_version FROM receipts WHERE contract_id = $1")
        .bind(contract_id)
        .fetch_optional(pool)
        .await
}

/// Stores a receipt unless one exists; returns the stored one either way.
pub async fn insert_once(pool: &PgPool, receipt: &ReceiptRow) -> Result<ReceiptRow, sqlx::Error> {
    sqlx::query(
        "INSERT INTO receipts (contract_id, body, signature, key_version) VALUES ($1, $2, $3, $4)
         ON CONFLICT (contract_id) DO NOTHING",
    )
    .bind(&receipt.contract_id)
    .bind(&receipt.body)
    .bind(&receipt.signature)
    .bind(receipt.key_version)
    .execute(pool)
    .await?;
    get(pool, &receipt.contract_id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// The hash of the journal link at `seq`.
pub async fn journal_hash(pool: &PgPool, seq: i64) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT hash FROM journal WHERE seq = $1").bind(seq).fetch_optional(pool).await
}
