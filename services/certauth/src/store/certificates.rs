//! Issued certificates: the signed credential as signed, the X.509 PEM, and their lifecycle.

use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CertificateRow {
    pub id: String,
    pub request_id: Option<String>,
    pub tenant_id: String,
    pub provider_id: String,
    pub agent_name: String,
    pub certificate_type: String,
    pub claims: Json<serde_json::Value>,
    pub public_key_pem: String,
    pub serial: String,
    pub key_version: i32,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub status: String,
    pub credential: String,
    pub signature: String,
    pub fingerprint: String,
    pub x509_pem: String,
    pub previous_cert_id: Option<String>,
    pub renewal_count: i32,
    pub revoked_at: Option<OffsetDateTime>,
    pub revocation_reason: Option<String>,
    pub created_at: OffsetDateTime,
}

const COLUMNS: &str = "id, request_id, tenant_id, provider_id, agent_name, certificate_type, claims, public_key_pem, \
                       serial, key_version, not_before, not_after, status, credential, signature, fingerprint, x509_pem, \
                       previous_cert_id, renewal_count, revoked_at, revocation_reason, created_at";

/// A certificate to store, fully built and signed.
#[derive(Debug)]
pub struct NewCertificate<'a> {
    pub id: &'a str,
    pub request_id: Option<&'a str>,
    pub tenant_id: &'a str,
    pub provider_id: &'a str,
    pub agent_name: &'a str,
    pub certificate_type: &'a str,
    pub claims: serde_json::Value,
    pub public_key_pem: &'a str,
    pub serial: &'a str,
    pub key_version: i32,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub credential: &'a str,
    pub signature: &'a str,
    pub fingerprint: &'a str,
    pub x509_pem: &'a str,
    pub previous_cert_id: Option<&'a str>,
    pub renewal_count: i32,
}

pub async fn insert(conn: &mut PgConnection, new: NewCertificate<'_>) -> Result<CertificateRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO certificates
             (id, request_id, tenant_id, provider_id, agent_name, certificate_type, claims, public_key_pem, serial,
              key_version, not_before, not_after, status, credential, signature, fingerprint, x509_pem,
              previous_cert_id, renewal_count)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'ACTIVE', $13, $14, $15, $16, $17, $18)
         RETURNING {COLUMNS}"
    )))
    .bind(new.id)
    .bind(new.request_id)
    .bind(new.tenant_id)
    .bind(new.provider_id)
    .bind(new.agent_name)
    .bind(new.certificate_type)
    .bind(Json(new.claims))
    .bind(new.public_key_pem)
    .bind(new.serial)
    .bind(new.key_version)
    .bind(new.not_before)
    .bind(new.not_after)
    .bind(new.credential)
    .bind(new.signature)
    .bind(new.fingerprint)
    .bind(new.x509_pem)
    .bind(new.previous_cert_id)
    .bind(new.renewal_count)
    .fetch_one(conn)
    .await
}

pub async fn get(pool: &PgPool, id: &str) -> Result<Option<CertificateRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM certificates WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn get_in(conn: &mut PgConnection, id: &str) -> Result<Option<CertificateRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM certificates WHERE id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The certificate, locked until the transaction ends.
pub async fn lock(conn: &mut PgConnection, id: &str) -> Result<Option<CertificateRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM certificates WHERE id = $1 FOR UPDATE")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn revoke(conn: &mut PgConnection, id: &str, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE certificates SET status = 'REVOKED', revoked_at = now(), revocation_reason = $2 WHERE id = $1")
        .bind(id)
        .bind(reason)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn supersede(conn: &mut PgConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE certificates SET status = 'SUPERSEDED' WHERE id = $1").bind(id).execute(conn).await?;
    Ok(())
}

/// A revoked certificate as the CRL lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RevokedRow {
    pub id: String,
    pub serial: String,
    pub revoked_at: OffsetDateTime,
    pub revocation_reason: Option<String>,
}

/// Every revoked certificate, by revocation time.
pub async fn revoked(conn: &mut PgConnection) -> Result<Vec<RevokedRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, serial, revoked_at, revocation_reason FROM certificates
         WHERE status = 'REVOKED' AND revoked_at IS NOT NULL ORDER BY revoked_at, id",
    )
    .fetch_all(conn)
    .await
}

/// Search filters; `None` matches anything. `claims_filter` is a JSON array for `@>`.
#[derive(Debug, Default)]
pub struct Search<'a> {
    pub tenant_id: Option<&'a str>,
    pub provider_id: Option<&'a str>,
    pub certificate_type: Option<&'a str>,
    pub status: Option<&'a str>,
    pub claims_filter: serde_json::Value,
    pub limit: i64,
    pub offset: i64,
}

const SEARCH_WHERE: &str = "($1::text IS NULL OR tenant_id = $1)
      AND ($2::text IS NULL OR provider_id = $2)
      AND ($3::text IS NULL OR certificate_type = $3)
      AND ($4::text IS NULL OR status = $4)
      AND claims @> $5";

/// One page of matching certificates, newest first, and the total count.
pub async fn search(pool: &PgPool, search: &Search<'_>) -> Result<(Vec<CertificateRow>, i64), sqlx::Error> {
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM certificates WHERE {SEARCH_WHERE} ORDER BY created_at DESC, id LIMIT $6 OFFSET $7"
    )))
    .bind(search.tenant_id)
    .bind(search.provider_id)
    .bind(search.certificate_type)
    .bind(search.status)
    .bind(Json(&search.claims_filter))
    .bind(search.limit)
    .bind(search.offset)
    .fetch_all(pool)
    .await?;
    let total =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM certificates WHERE {SEARCH_WHERE}")))
            .bind(search.tenant_id)
            .bind(search.provider_id)
            .bind(search.certificate_type)
            .bind(search.status)
            .bind(Json(&search.claims_filter))
            .fetch_one(pool)
            .await?;
    Ok((rows, total))
}

/// A provider's certificates that are ACTIVE and inside their validity window now.
pub async fn currently_active_for_provider(
    pool: &PgPool,
    provider_id: &str,
) -> Result<Vec<CertificateRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM certificates
         WHERE provider_id = $1 AND status = 'ACTIVE' AND not_before <= now() AND not_after > now()
         ORDER BY created_at, id"
    )))
    .bind(provider_id)
    .fetch_all(pool)
    .await
}
