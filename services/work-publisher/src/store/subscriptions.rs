//! Subscriptions: a provider's category globs, filters and delivery method.

use crate::domain::matching::SubscriptionFilter;
use aex_types::Timestamp;
use sqlx::{PgExecutor, PgPool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubscriptionRow {
    pub id: String,
    pub tenant_id: String,
    pub provider_id: String,
    pub categories: Vec<String>,
    pub currency: String,
    pub min_budget_minor: Option<i64>,
    pub max_latency_ms: Option<i64>,
    pub regions: Option<Vec<String>>,
    pub delivery_method: String,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    pub status: String,
    pub created_at: Timestamp,
}

impl SubscriptionRow {
    pub fn filter(&self) -> SubscriptionFilter {
        SubscriptionFilter {
            categories: self.categories.clone(),
            min_budget_minor: self.min_budget_minor,
            currency: self.currency.clone(),
            max_latency_ms: self.max_latency_ms,
            regions: self.regions.clone(),
        }
    }
}

const SELECT: &str = "SELECT id, tenant_id, provider_id, categories, currency, min_budget_minor, max_latency_ms,
        regions, delivery_method, webhook_url, webhook_secret, status, created_at FROM subscriptions";

#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub id: String,
    pub tenant_id: String,
    pub provider_id: String,
    pub categories: Vec<String>,
    pub currency: String,
    pub min_budget_minor: Option<i64>,
    pub max_latency_ms: Option<i64>,
    pub regions: Option<Vec<String>>,
    pub delivery_method: String,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
}

pub async fn insert(pool: &PgPool, s: &NewSubscription) -> Result<SubscriptionRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO subscriptions (id, tenant_id, provider_id, categories, currency, min_budget_minor, max_latency_ms,
                                    regions, delivery_method, webhook_url, webhook_secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         RETURNING id, tenant_id, provider_id, categories, currency, min_budget_minor, max_latency_ms,
                   regions, delivery_method, webhook_url, webhook_secret, status, created_at",
    )
    .bind(&s.id)
    .bind(&s.tenant_id)
    .bind(&s.provider_id)
    .bind(&s.categories)
    .bind(&s.currency)
    .bind(s.min_budget_minor)
    .bind(s.max_latency_ms)
    .bind(&s.regions)
    .bind(&s.delivery_method)
    .bind(&s.webhook_url)
    .bind(&s.webhook_secret)
    .fetch_one(pool)
    .await
}

pub async fn for_tenant<'e>(
    executor: impl PgExecutor<'e>,
    tenant_id: &str,
) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE tenant_id = $1 AND status = 'ACTIVE' ORDER BY created_at, id"
    )))
    .bind(tenant_id)
    .fetch_all(executor)
    .await
}

/// Every active subscription of an active provider, except `excluding_tenant`'s own.
pub async fn active_except<'e>(
    executor: impl PgExecutor<'e>,
    excluding_tenant: &str,
) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, s.tenant_id, s.provider_id, s.categories, s.currency, s.min_budget_minor, s.max_latency_ms,
                s.regions, s.delivery_method, s.webhook_url, s.webhook_secret, s.status, s.created_at
         FROM subscriptions s JOIN providers p ON p.id = s.provider_id
         WHERE s.status = 'ACTIVE' AND p.status = 'ACTIVE' AND s.tenant_id <> $1",
    )
    .bind(excluding_tenant)
    .fetch_all(executor)
    .await
}
