//! Trust and reputation: `GET /v1/providers/{id}/reputation`, `/trust`, and
//! `GET /v1/reputation/leaderboard`. Public marketplace information for any authenticated tenant.

use crate::client::{Client, resource};
use crate::error::Result;
use crate::page::{Page, PageParams, walk};
use aex_api::events::ReputationComponents;
use aex_types::Timestamp;
use futures::stream::BoxStream;
use reqwest::Method;
use serde::Deserialize;

/// A certified (category, capability) pair.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CertifiedCapability {
    pub category: String,
    pub capability: String,
}

/// A provider's reputation: `0.35·transaction + 0.25·success_rate + 0.15·volume +
/// 0.15·consistency + 0.10·certification`, after the anti-gaming flags.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ProviderReputation {
    pub provider_id: String,
    pub score: f64,
    /// `BRONZE`, `SILVER`, `GOLD` or `PLATINUM`.
    pub tier: String,
    pub components: ReputationComponents,
    pub weights: ReputationComponents,
    pub flags: Vec<String>,
    pub contracts: i32,
    pub successes: i32,
    pub certified_capabilities: Vec<CertifiedCapability>,
    pub updated_at: Timestamp,
}

/// A provider's recency-weighted outcome trust.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ProviderTrust {
    pub provider_id: String,
    /// Under a Beta(1, 1) prior: 0.5 with no history.
    pub trust_score: f64,
    pub tier: String,
    pub contracts: i32,
    pub successes: i32,
    pub failures: i32,
    pub half_life_days: f64,
    pub flags: Vec<String>,
    pub updated_at: Timestamp,
}

/// One place on the leaderboard.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LeaderboardEntry {
    pub rank: i64,
    pub provider_id: String,
    pub score: f64,
    pub tier: String,
    pub contracts: i32,
    pub flags: Vec<String>,
}

resource!(
    /// Reputation and trust: `client.reputation()`.
    Reputation
);

impl Client {
    /// Reputation, trust and the leaderboard (certauth).
    pub fn reputation(&self) -> Reputation<'_> {
        Reputation::new(self)
    }
}

impl Reputation<'_> {
    /// `GET /v1/providers/{id}/reputation`: 404 for a provider without evidence yet.
    pub async fn of(&self, provider_id: &str) -> Result<ProviderReputation> {
        self.call(Method::GET, &["v1", "providers", provider_id, "reputation"]).send().await
    }

    /// `GET /v1/providers/{id}/trust`.
    pub async fn trust(&self, provider_id: &str) -> Result<ProviderTrust> {
        self.call(Method::GET, &["v1", "providers", provider_id, "trust"]).send().await
    }

    /// `GET /v1/reputation/leaderboard`: one page (limit 1–100, default 20), best first.
    pub async fn leaderboard(&self, page: PageParams) -> Result<Page<LeaderboardEntry>> {
        Page::decode(
            self.call(Method::GET, &["v1", "reputation", "leaderboard"]).query(&page.pairs()).send().await?,
            "providers",
        )
    }

    /// The whole leaderboard, page after page.
    pub fn leaderboard_all(&self, page: PageParams) -> BoxStream<'static, Result<LeaderboardEntry>> {
        let client = self.client.clone();
        walk(page, move |params| {
            let client = client.clone();
            async move { client.reputation().leaderboard(params).await }
        })
    }
}
