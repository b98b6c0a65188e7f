//! Trust and reputation: `GET /v1/providers/{id}/reputation`, `GET /v1/providers/{id}/trust`,
//! `GET /v1/reputation/leaderboard`, and the bid-evaluator's batch lookup
//! `POST /internal/v1/providers/trust`.
//!
//! Reputation is public marketplace information: any authenticated tenant (or the operator)
//! may read any provider's, as consumers choose providers by it. The batch route is for
//! services only.

use super::certificates::PageQuery;
use super::{actor, require_internal};
use crate::AppState;
use crate::domain::credential::rfc3339;
use crate::domain::reputation::{
    HALF_LIFE_DAYS, W_CERTIFICATION, W_CONSISTENCY, W_SUCCESS_RATE, W_TRANSACTION, W_VOLUME,
};
use crate::domain::request::validate_provider_id;
use crate::error::{Error, Result};
use crate::store::reputation::{self as snapshots, Capability, SnapshotRow};
use aex_api::events::ReputationComponents;
use aex_common::auth::Principal;
use aex_common::server::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
pub struct ReputationView {
    pub provider_id: String,
    /// 0.35·transaction + 0.25·success_rate + 0.15·volume + 0.15·consistency + 0.10·certification,
    /// after the anti-gaming flags.
    pub score: f64,
    pub tier: String,
    pub components: ReputationComponents,
    pub weights: ReputationComponents,
    pub flags: Vec<String>,
    pub contracts: i32,
    pub successes: i32,
    pub certified_capabilities: Vec<Capability>,
    pub updated_at: String,
}

impl From<SnapshotRow> for ReputationView {
    fn from(row: SnapshotRow) -> Self {
        Self {
            score: row.score,
            tier: row.tier,
            components: ReputationComponents {
                transaction: row.transaction_score,
                success_rate: row.success_rate,
                volume: row.volume,
                consistency: row.consistency,
                certification: row.certification,
            },
            weights: ReputationComponents {
                transaction: W_TRANSACTION,
                success_rate: W_SUCCESS_RATE,
                volume: W_VOLUME,
                consistency: W_CONSISTENCY,
                certification: W_CERTIFICATION,
            },
            flags: row.flags,
            contracts: row.contracts,
            successes: row.successes,
            certified_capabilities: row.certified_capabilities.0,
            updated_at: rfc3339(row.updated_at),
            provider_id: row.provider_id,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TrustView {
    pub provider_id: String,
    /// Recency-weighted successes under a Beta(1, 1) prior (0.5 with no history).
    pub trust_score: f64,
    pub tier: String,
    pub contracts: i32,
    pub successes: i32,
    pub failures: i32,
    pub half_life_days: f64,
    pub flags: Vec<String>,
    pub updated_at: String,
}

/// The snapshot of a well-formed provider id; unknown providers are 404.
async fn snapshot(state: &AppState, provider_id: &str) -> Result<SnapshotRow> {
    validate_provider_id(provider_id)?;
    snapshots::get(&state.pool, provider_id).await?.ok_or(Error::NotFound)
}

pub async fn reputation(
    State(state): State<AppState>,
    principal: Principal,
    Path(provider_id): Path<String>,
) -> Result<Json<ReputationView>> {
    actor(&principal, false)?;
    Ok(Json(snapshot(&state, &provider_id).await?.into()))
}

pub async fn trust(
    State(state): State<AppState>,
    principal: Principal,
    Path(provider_id): Path<String>,
) -> Result<Json<TrustView>> {
    actor(&principal, false)?;
    let row = snapshot(&state, &provider_id).await?;
    Ok(Json(TrustView {
        trust_score: row.trust_score,
        tier: row.tier,
        contracts: row.contracts,
        successes: row.successes,
        failures: row.contracts.saturating_sub(row.successes),
        half_life_days: HALF_LIFE_DAYS,
        flags: row.flags,
        updated_at: rfc3339(row.updated_at),
        provider_id: row.provider_id,
    }))
}

#[derive(Debug, Serialize)]
pub struct LeaderboardEntry {
    pub rank: i64,
    pub provider_id: String,
    pub score: f64,
    pub tier: String,
    pub contracts: i32,
    pub flags: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Leaderboard {
    pub providers: Vec<LeaderboardEntry>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

pub const MAX_LEADERBOARD_PAGE: i64 = 100;

/// Ordered by score, then contracts (both descending), then provider id.
pub async fn leaderboard(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
) -> Result<Json<Leaderboard>> {
    actor(&principal, false)?;
    let limit = page.limit.unwrap_or(20);
    let offset = page.offset.unwrap_or(0);
    if !(1..=MAX_LEADERBOARD_PAGE).contains(&limit) {
        return Err(Error::validation("limit must be between 1 and 100"));
    }
    if offset < 0 {
        return Err(Error::validation("offset must not be negative"));
    }
    let (rows, total) = snapshots::leaderboard(&state.pool, limit, offset).await?;
    let providers = rows
        .into_iter()
        .zip(1i64..)
        .map(|(row, n)| LeaderboardEntry {
            rank: offset.saturating_add(n),
            provider_id: row.provider_id,
            score: row.score,
            tier: row.tier,
            contracts: row.contracts,
            flags: row.flags,
        })
        .collect();
    Ok(Json(Leaderboard { providers, total, limit, offset }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchTrustBody {
    pub provider_ids: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ProviderTrust {
    /// The reputation score (what the evaluator's trust component uses).
    pub score: f64,
    pub trust_score: f64,
    pub tier: String,
    pub contracts: i32,
    pub flags: Vec<String>,
    pub certified_capabilities: Vec<Capability>,
}

#[derive(Debug, Serialize)]
pub struct BatchTrust {
    pub providers: BTreeMap<String, ProviderTrust>,
    /// Requested providers certauth has no evidence for: the evaluator must not invent a score.
    pub unknown: Vec<String>,
}

pub const MAX_TRUST_BATCH: usize = 1000;

pub async fn batch_trust(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<BatchTrustBody>,
) -> Result<Json<BatchTrust>> {
    require_internal(&principal)?;
    if body.provider_ids.is_empty() || body.provider_ids.len() > MAX_TRUST_BATCH {
        return Err(Error::validation(format!("provider_ids must hold 1 to {MAX_TRUST_BATCH} ids")));
    }
    for id in &body.provider_ids {
        validate_provider_id(id)?;
    }
    let mut ids = body.provider_ids;
    ids.sort();
    ids.dedup();
    let providers: BTreeMap<String, ProviderTrust> = snapshots::get_many(&state.pool, &ids)
        .await?
        .into_iter()
        .map(|row| {
            let view = ProviderTrust {
                score: row.score,
                trust_score: row.trust_score,
                tier: row.tier,
                contracts: row.contracts,
                flags: row.flags,
                certified_capabilities: row.certified_capabilities.0,
            };
            (row.provider_id, view)
        })
        .collect();
    let unknown = ids.into_iter().filter(|id| !providers.contains_key(id)).collect();
    Ok(Json(BatchTrust { providers, unknown }))
}
