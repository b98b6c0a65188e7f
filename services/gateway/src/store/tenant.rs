//! Tenants: create, read, suspend and activate, and their rate-limit quotas.

use crate::domain::ratelimit::TenantOverrides;
use crate::domain::tenant::NewTenant;
use aex_types::Timestamp;
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};

#[derive(Debug, Clone, FromRow)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub tenant_type: String,
    pub status: String,
    pub contact_email: Option<String>,
    pub billing_email: Option<String>,
    pub metadata: Value,
    pub is_operator: bool,
    pub rate_limit_per_minute: Option<i32>,
    pub rate_limit_burst: Option<i32>,
    pub money_rate_limit_per_minute: Option<i32>,
    pub status_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub async fn insert(
    conn: &mut PgConnection,
    id: &str,
    tenant: &NewTenant,
    is_operator: bool,
) -> Result<TenantRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO tenants (id, name, tenant_type, contact_email, billing_email, metadata, is_operator) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         RETURNING id, name, tenant_type, status, contact_email, billing_email, metadata, is_operator, \
           rate_limit_per_minute, rate_limit_burst, money_rate_limit_per_minute, status_reason, created_at, updated_at",
    )
    .bind(id)
    .bind(&tenant.name)
    .bind(tenant.tenant_type.as_str())
    .bind(&tenant.contact_email)
    .bind(&tenant.billing_email)
    .bind(&tenant.metadata)
    .bind(is_operator)
    .fetch_one(conn)
    .await
}

pub async fn find(pool: &PgPool, id: &str) -> Result<Option<TenantRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, tenant_type, status, contact_email, billing_email, metadata, is_operator, \
           rate_limit_per_minute, rate_limit_burst, money_rate_limit_per_minute, status_reason, created_at, updated_at \
         FROM tenants WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The operator tenant's id, if one exists.
pub async fn operator_id(conn: &mut PgConnection) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM tenants WHERE is_operator").fetch_optional(conn).await
}

/// Sets the status (and its reason); the row locked, updated and returned.
pub async fn set_status(
    conn: &mut PgConnection,
    id: &str,
    status: &str,
    reason: Option<&str>,
) -> Result<Option<TenantRow>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE tenants SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1 \
         RETURNING id, name, tenant_type, status, contact_email, billing_email, metadata, is_operator, \
           rate_limit_per_minute, rate_limit_burst, money_rate_limit_per_minute, status_reason, created_at, updated_at",
    )
    .bind(id)
    .bind(status)
    .bind(reason)
    .fetch_optional(conn)
    .await
}

/// Sets the rate-limit overrides (`None`: the gateway default); the row updated and returned.
pub async fn set_quotas(
    conn: &mut PgConnection,
    id: &str,
    quotas: &TenantOverrides,
) -> Result<Option<TenantRow>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE tenants SET rate_limit_per_minute = $2, rate_limit_burst = $3, money_rate_limit_per_minute = $4, \
           updated_at = now() WHERE id = $1 \
         RETURNING id, name, tenant_type, status, contact_email, billing_email, metadata, is_operator, \
           rate_limit_per_minute, rate_limit_burst, money_rate_limit_per_minute, status_reason, created_at, updated_at",
    )
    .bind(id)
    .bind(quotas.per_minute)
    .bind(quotas.burst)
    .bind(quotas.money_per_minute)
    .fetch_optional(conn)
    .await
}

/// Whether the tenant is the operator's (read under the caller's transaction).
pub async fn is_operator(conn: &mut PgConnection, id: &str) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar("SELECT is_operator FROM tenants WHERE id = $1 FOR UPDATE").bind(id).fetch_optional(conn).await
}
