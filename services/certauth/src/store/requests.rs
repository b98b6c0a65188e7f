//! Certificate requests: created PENDING, then APPROVED (with their certificate) or REJECTED.

use sqlx::PgConnection;
use sqlx::types::Json;
use time::OffsetDateTime;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestRow {
    pub id: String,
    pub tenant_id: String,
    pub provider_id: String,
    pub agent_name: String,
    pub certificate_type: String,
    pub claims: Json<serde_json::Value>,
    pub public_key_pem: String,
    pub csr_pem: Option<String>,
    pub status: String,
    pub certificate_id: Option<String>,
    pub decision_reason: Option<String>,
    pub decided_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

const COLUMNS: &str = "id, tenant_id, provider_id, agent_name, certificate_type, claims, public_key_pem, csr_pem, \
                       status, certificate_id, decision_reason, decided_at, created_at";

#[derive(Debug)]
pub struct NewRequest<'a> {
    pub id: &'a str,
    pub tenant_id: &'a str,
    pub provider_id: &'a str,
    pub agent_name: &'a str,
    pub certificate_type: &'a str,
    pub claims: serde_json::Value,
    pub public_key_pem: &'a str,
    pub csr_pem: Option<&'a str>,
}

pub async fn insert(conn: &mut PgConnection, new: NewRequest<'_>) -> Result<RequestRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO certificate_requests
             (id, tenant_id, provider_id, agent_name, certificate_type, claims, public_key_pem, csr_pem, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'PENDING') RETURNING {COLUMNS}"
    )))
    .bind(new.id)
    .bind(new.tenant_id)
    .bind(new.provider_id)
    .bind(new.agent_name)
    .bind(new.certificate_type)
    .bind(Json(new.claims))
    .bind(new.public_key_pem)
    .bind(new.csr_pem)
    .fetch_one(conn)
    .await
}

/// The request, locked until the transaction ends: concurrent decisions queue here.
pub async fn lock(conn: &mut PgConnection, id: &str) -> Result<Option<RequestRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM certificate_requests WHERE id = $1 FOR UPDATE")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn mark_approved(conn: &mut PgConnection, id: &str, certificate_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE certificate_requests SET status = 'APPROVED', certificate_id = $2, decided_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(certificate_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn mark_rejected(conn: &mut PgConnection, id: &str, reason: Option<&str>) -> Result<RequestRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE certificate_requests SET status = 'REJECTED', decision_reason = $2, decided_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(reason)
    .fetch_one(conn)
    .await
}
