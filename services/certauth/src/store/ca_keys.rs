//! CA key versions: sealed private key, public key, CA certificate and status.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaKeyRow {
    pub version: i32,
    pub status: String,
    pub key_protection: String,
    pub sealed_private_key: Vec<u8>,
    pub public_key_pem: String,
    pub certificate_pem: String,
    pub created_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

const COLUMNS: &str = "version, status, key_protection, sealed_private_key, public_key_pem, certificate_pem, \
                       created_at, retired_at, revoked_at";

/// Serializes key creation, rotation and key revocation (rare, operator-driven). Signers hold
/// the active row `FOR SHARE`, so a rotation waits for in-flight issuance and vice versa.
pub async fn lock_for_change(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("LOCK TABLE ca_keys IN SHARE ROW EXCLUSIVE MODE").execute(conn).await?;
    Ok(())
}

/// Every version, oldest first.
pub async fn all(pool: &PgPool) -> Result<Vec<CaKeyRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM ca_keys ORDER BY version"))).fetch_all(pool).await
}

pub async fn count(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM ca_keys").fetch_one(conn).await
}

pub async fn get(conn: impl sqlx::PgExecutor<'_>, version: i32) -> Result<Option<CaKeyRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM ca_keys WHERE version = $1")))
        .bind(version)
        .fetch_optional(conn)
        .await
}

/// The active version, held `FOR SHARE` until the transaction ends so it cannot be retired or
/// revoked while it signs.
pub async fn active_for_signing(conn: &mut PgConnection) -> Result<Option<CaKeyRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM ca_keys WHERE status = 'active' FOR SHARE")))
        .fetch_optional(conn)
        .await
}

pub async fn next_version(conn: &mut PgConnection) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(max(version), 0) + 1 FROM ca_keys").fetch_one(conn).await
}

/// A new version, active. The caller has retired the previous active one.
pub async fn insert_active(
    conn: &mut PgConnection,
    version: i32,
    key_protection: &str,
    sealed_private_key: &[u8],
    public_key_pem: &str,
    certificate_pem: &str,
) -> Result<CaKeyRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO ca_keys (version, status, key_protection, sealed_private_key, public_key_pem, certificate_pem)
         VALUES ($1, 'active', $2, $3, $4, $5) RETURNING {COLUMNS}"
    )))
    .bind(version)
    .bind(key_protection)
    .bind(sealed_private_key)
    .bind(public_key_pem)
    .bind(certificate_pem)
    .fetch_one(conn)
    .await
}

/// Retires the active version (it keeps verifying, it no longer signs).
pub async fn retire_active(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE ca_keys SET status = 'retired', retired_at = now() WHERE status = 'active'")
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks a version revoked; returns its previous status, or `None` if there is no such version.
pub async fn revoke(conn: &mut PgConnection, version: i32) -> Result<Option<String>, sqlx::Error> {
    let previous: Option<String> = sqlx::query_scalar("SELECT status FROM ca_keys WHERE version = $1 FOR UPDATE")
        .bind(version)
        .fetch_optional(&mut *conn)
        .await?;
    if previous.as_deref().is_some_and(|s| s != "revoked") {
        sqlx::query("UPDATE ca_keys SET status = 'revoked', revoked_at = now() WHERE version = $1")
            .bind(version)
            .execute(conn)
            .await?;
    }
    Ok(previous)
}

/// The status of each of `versions`.
pub async fn statuses(pool: &PgPool, versions: &[i32]) -> Result<Vec<(i32, String)>, sqlx::Error> {
    sqlx::query_as("SELECT version, status FROM ca_keys WHERE version = ANY($1)").bind(versions).fetch_all(pool).await
}
