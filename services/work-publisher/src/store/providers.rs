//! Provider profiles: owned by one tenant; names unique platform-wide.

use aex_types::Timestamp;
use sqlx::{PgExecutor, PgPool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProviderRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub description: String,
    pub endpoint: String,
    pub bid_webhook: Option<String>,
    pub capabilities: Vec<String>,
    pub contact_email: String,
    pub metadata: serde_json::Value,
    pub status: String,
    pub trust_tier: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const SELECT: &str = "SELECT id, tenant_id, name, description, endpoint, bid_webhook, capabilities, contact_email,
        metadata, status, trust_tier, created_at, updated_at FROM providers";

#[derive(Debug, Clone)]
pub struct NewProvider {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub description: String,
    pub endpoint: String,
    pub bid_webhook: Option<String>,
    pub capabilities: Vec<String>,
    pub contact_email: String,
    pub metadata: serde_json::Value,
}

/// Inserts a provider; the unique name indexes `providers_name_key` and
/// `providers_tenant_name_key` refuse a name already taken.
pub async fn insert(pool: &PgPool, provider: &NewProvider) -> Result<ProviderRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO providers (id, tenant_id, name, description, endpoint, bid_webhook, capabilities, contact_email, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING id, tenant_id, name, description, endpoint, bid_webhook, capabilities, contact_email,
                   metadata, status, trust_tier, created_at, updated_at",
    )
    .bind(&provider.id)
    .bind(&provider.tenant_id)
    .bind(&provider.name)
    .bind(&provider.description)
    .bind(&provider.endpoint)
    .bind(&provider.bid_webhook)
    .bind(&provider.capabilities)
    .bind(&provider.contact_email)
    .bind(&provider.metadata)
    .fetch_one(pool)
    .await
}

/// The tenant owning a provider name (case-insensitive), if any.
pub async fn name_owner(pool: &PgPool, name: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT tenant_id FROM providers WHERE lower(name) = lower($1)")
        .bind(name)
        .fetch_optional(pool)
        .await
}

pub async fn get<'e>(executor: impl PgExecutor<'e>, id: &str) -> Result<Option<ProviderRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1"))).bind(id).fetch_optional(executor).await
}

pub async fn for_tenant<'e>(executor: impl PgExecutor<'e>, tenant_id: &str) -> Result<Vec<ProviderRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE tenant_id = $1 ORDER BY created_at, id")))
        .bind(tenant_id)
        .fetch_all(executor)
        .await
}

/// Active providers with any of `skill_tags` among their capabilities or their agent card's
/// skills (all when empty) at or above one of `tiers`.
pub async fn search(
    pool: &PgPool,
    skill_tags: &[String],
    tiers: &[String],
    limit: i64,
    offset: i64,
) -> Result<(Vec<ProviderRow>, i64), sqlx::Error> {
    const MATCHES: &str = "status = 'ACTIVE'
           AND (cardinality($1::text[]) = 0 OR capabilities && $1
                OR EXISTS (SELECT 1 FROM agent_cards c WHERE c.provider_id = providers.id AND c.skill_tags && $1))
           AND trust_tier = ANY($2)";
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE {MATCHES} ORDER BY created_at, id LIMIT $3 OFFSET $4"
    )))
    .bind(skill_tags)
    .bind(tiers)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM providers WHERE {MATCHES}")))
        .bind(skill_tags)
        .bind(tiers)
        .fetch_one(pool)
        .await?;
    Ok((rows, total))
}
