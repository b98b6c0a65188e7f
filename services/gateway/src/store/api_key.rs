//! API keys: insert, list, look up for authentication, rotate, revoke, and record last use.

use aex_types::Timestamp;
use sqlx::{FromRow, PgConnection, PgPool};

/// A stored key (never its plaintext).
#[derive(Debug, Clone, FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub key_hash: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub status: String,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub rotated_from: Option<String>,
    pub grace_until: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// A key joined with its tenant's status: everything authentication needs.
#[derive(Debug, Clone, FromRow)]
pub struct CredentialRow {
    pub id: String,
    pub tenant_id: String,
    pub key_hash: String,
    pub scopes: Vec<String>,
    pub status: String,
    pub expires_at: Option<Timestamp>,
    pub grace_until: Option<Timestamp>,
    pub tenant_status: String,
    pub rate_limit_per_minute: Option<i32>,
    pub rate_limit_burst: Option<i32>,
    pub money_rate_limit_per_minute: Option<i32>,
}

/// A key to insert.
#[derive(Debug, Clone)]
pub struct NewApiKey<'a> {
    pub id: &'a str,
    pub tenant_id: &'a str,
    pub name: &'a str,
    pub key_hash: &'a str,
    pub prefix: &'a str,
    pub scopes: &'a [String],
    pub expires_at: Option<Timestamp>,
    pub rotated_from: Option<&'a str>,
}

pub async fn insert(conn: &mut PgConnection, key: &NewApiKey<'_>) -> Result<ApiKeyRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO api_keys (id, tenant_id, name, key_hash, prefix, scopes, expires_at, rotated_from) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING id, tenant_id, name, key_hash, prefix, scopes, status, expires_at, last_used_at, rotated_from, \
           grace_until, revoked_at, created_at",
    )
    .bind(key.id)
    .bind(key.tenant_id)
    .bind(key.name)
    .bind(key.key_hash)
    .bind(key.prefix)
    .bind(key.scopes)
    .bind(key.expires_at)
    .bind(key.rotated_from)
    .fetch_one(conn)
    .await
}

/// A page of a tenant's keys, oldest first, and the total.
pub async fn list(
    pool: &PgPool,
    tenant_id: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ApiKeyRow>, i64), sqlx::Error> {
    let rows = sqlx::query_as(
        "SELECT id, tenant_id, name, key_hash, prefix, scopes, status, expires_at, last_used_at, rotated_from, \
           grace_until, revoked_at, created_at \
         FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3",
    )
    .bind(tenant_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total = sqlx::query_scalar("SELECT count(*) FROM api_keys WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(pool)
        .await?;
    Ok((rows, total))
}

/// One key of one tenant, locked for update.
pub async fn lock(conn: &mut PgConnection, tenant_id: &str, id: &str) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, tenant_id, name, key_hash, prefix, scopes, status, expires_at, last_used_at, rotated_from, \
           grace_until, revoked_at, created_at \
         FROM api_keys WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// One key of one tenant.
pub async fn find(conn: &mut PgConnection, tenant_id: &str, id: &str) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, tenant_id, name, key_hash, prefix, scopes, status, expires_at, last_used_at, rotated_from, \
           grace_until, revoked_at, created_at \
         FROM api_keys WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Authentication lookup by the key's hash.
pub async fn credential_by_hash(pool: &PgPool, key_hash: &str) -> Result<Option<CredentialRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT k.id, k.tenant_id, k.key_hash, k.scopes, k.status, k.expires_at, k.grace_until, \
           t.status AS tenant_status, t.rate_limit_per_minute, t.rate_limit_burst, t.money_rate_limit_per_minute \
         FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = $1",
    )
    .bind(key_hash)
    .fetch_optional(pool)
    .await
}

/// Authentication lookup by key id (access tokens name the key they were issued for).
pub async fn credential_by_id(pool: &PgPool, id: &str) -> Result<Option<CredentialRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT k.id, k.tenant_id, k.key_hash, k.scopes, k.status, k.expires_at, k.grace_until, \
           t.status AS tenant_status, t.rate_limit_per_minute, t.rate_limit_burst, t.money_rate_limit_per_minute \
         FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Whether any key has this hash (operator key bootstrap).
pub async fn exists_with_hash(conn: &mut PgConnection, key_hash: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_keys WHERE key_hash = $1)")
        .bind(key_hash)
        .fetch_one(conn)
        .await
}

/// Whether the tenant has any key at all.
pub async fn tenant_has_keys(conn: &mut PgConnection, tenant_id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_keys WHERE tenant_id = $1)")
        .bind(tenant_id)
        .fetch_one(conn)
        .await
}

/// Starts the old key's grace period: it works until `grace_until`, then never again.
pub async fn set_grace(conn: &mut PgConnection, id: &str, grace_until: Timestamp) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET grace_until = $2 WHERE id = $1").bind(id).bind(grace_until).execute(conn).await?;
    Ok(())
}

/// Revokes the key (idempotent: the first revocation time is kept).
pub async fn revoke(conn: &mut PgConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET status = 'REVOKED', revoked_at = COALESCE(revoked_at, now()) WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records use, at most once a minute per key whatever the number of replicas.
pub async fn touch(pool: &PgPool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE api_keys SET last_used_at = now() \
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}
