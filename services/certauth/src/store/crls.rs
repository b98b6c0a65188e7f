//! Published CRLs, numbered; the highest number is current.

use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CrlRow {
    pub crl_number: i64,
    pub key_version: i32,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    pub entries: Json<serde_json::Value>,
    pub signed_json: String,
    pub signature: String,
    pub der: Vec<u8>,
}

const COLUMNS: &str = "crl_number, key_version, this_update, next_update, entries, signed_json, signature, der";

/// Serializes CRL generation so numbers are consecutive and the newest CRL lists every
/// revocation committed before it.
pub async fn lock_for_new(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query("LOCK TABLE crls IN EXCLUSIVE MODE").execute(&mut *conn).await?;
    sqlx::query_scalar("SELECT COALESCE(max(crl_number), 0) + 1 FROM crls").fetch_one(conn).await
}

pub async fn insert(conn: &mut PgConnection, row: &CrlRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO crls (crl_number, key_version, this_update, next_update, entries, signed_json, signature, der)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(row.crl_number)
    .bind(row.key_version)
    .bind(row.this_update)
    .bind(row.next_update)
    .bind(&row.entries)
    .bind(&row.signed_json)
    .bind(&row.signature)
    .bind(&row.der)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn latest(pool: &PgPool) -> Result<Option<CrlRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM crls ORDER BY crl_number DESC LIMIT 1")))
        .fetch_optional(pool)
        .await
}

pub async fn latest_in(conn: &mut PgConnection) -> Result<Option<CrlRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM crls ORDER BY crl_number DESC LIMIT 1")))
        .fetch_optional(conn)
        .await
}
