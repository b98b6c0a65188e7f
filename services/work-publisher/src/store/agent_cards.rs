//! A2A agent cards of providers and their skill tags (the skill index of provider search).

use aex_types::Timestamp;
use sqlx::PgExecutor;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgentCardRow {
    pub provider_id: String,
    pub card: serde_json::Value,
    pub skill_tags: Vec<String>,
    pub updated_at: Timestamp,
}

/// Stores (or replaces) the provider's card.
pub async fn upsert<'e>(
    executor: impl PgExecutor<'e>,
    provider_id: &str,
    card: &serde_json::Value,
    skill_tags: &[String],
) -> Result<AgentCardRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO agent_cards (provider_id, card, skill_tags) VALUES ($1, $2, $3)
         ON CONFLICT (provider_id) DO UPDATE SET card = excluded.card, skill_tags = excluded.skill_tags,
                updated_at = now()
         RETURNING provider_id, card, skill_tags, updated_at",
    )
    .bind(provider_id)
    .bind(card)
    .bind(skill_tags)
    .fetch_one(executor)
    .await
}

pub async fn get<'e>(executor: impl PgExecutor<'e>, provider_id: &str) -> Result<Option<AgentCardRow>, sqlx::Error> {
    sqlx::query_as("SELECT provider_id, card, skill_tags, updated_at FROM agent_cards WHERE provider_id = $1")
        .bind(provider_id)
        .fetch_optional(executor)
        .await
}
