//! Provider profiles: `POST/GET /v1/providers`, `GET /v1/providers/search`,
//! `GET /v1/providers/{id}`, and the A2A agent card routes.

use crate::client::{Client, resource};
use crate::error::Result;
use aex_types::{ProviderId, TenantId, Timestamp};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /v1/providers` [providers:write]: the caller's provider profile. The tenant comes
/// from the credentials, trust from certauth; neither is declared here.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct NewProvider {
    /// Letters, digits, spaces, `-`, `_`, `.`; owned platform-wide by the tenant.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Absolute http(s) URL of the agent.
    pub endpoint: String,
    /// Where new matching work is announced (signed webhook), if anywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bid_webhook: Option<String>,
    pub capabilities: Vec<String>,
    pub contact_email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// The answer to `POST /v1/providers`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CreatedProvider {
    pub provider_id: ProviderId,
    pub name: String,
    /// `ACTIVE`.
    pub status: String,
    /// `BRONZE` until certauth says otherwise.
    pub trust_tier: String,
    pub created_at: Timestamp,
}

/// A provider profile. The owner fields are present only when the caller's tenant owns it
/// (its own listing, or `get` of its own provider); the directory shows the rest.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Provider {
    pub provider_id: ProviderId,
    pub name: String,
    pub description: String,
    pub endpoint: String,
    pub capabilities: Vec<String>,
    pub status: String,
    pub trust_tier: String,
    pub created_at: Timestamp,
    /// Owner only.
    #[serde(default)]
    pub tenant_id: Option<TenantId>,
    /// Owner only.
    #[serde(default)]
    pub bid_webhook: Option<String>,
    /// Owner only.
    #[serde(default)]
    pub contact_email: Option<String>,
    /// Owner only.
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Owner only.
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
}

/// `GET /v1/providers` and `GET /v1/providers/search` (not paginated: `total` is the count).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ProviderList {
    pub providers: Vec<Provider>,
    pub total: u64,
}

/// `GET /v1/providers/search` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderSearch {
    /// Capability tags; a provider matches with any of them.
    pub skill_tags: Vec<String>,
    /// A tier (`SILVER`) or a score in [0, 1] as text (`"0.8"`).
    pub min_trust: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<u32>,
}

/// One skill of an A2A agent card.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgentSkill {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub examples: Vec<String>,
}

/// What AEX adds to a card it serves.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AgentCardStatus {
    pub provider_id: ProviderId,
    pub trust_tier: String,
    pub status: String,
    /// `false` for a card derived from the profile.
    pub published: bool,
}

/// An A2A agent card, in the A2A specification's camelCase fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentCard {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The agent's absolute http(s) URL.
    pub url: String,
    /// Default `1.0.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub capabilities: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_input_modes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_output_modes: Vec<String>,
    /// 1–64 skills.
    pub skills: Vec<AgentSkill>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub provider: Value,
    /// Set by AEX in the cards it serves; never sent.
    #[serde(default, skip_serializing)]
    pub aex: Option<AgentCardStatus>,
}

resource!(
    /// Provider profiles: `client.providers()`.
    Providers
);

impl Client {
    /// Provider profiles (work-publisher), and a provider's certificates, reputation and trust (certauth).
    pub fn providers(&self) -> Providers<'_> {
        Providers::new(self)
    }
}

impl Providers<'_> {
    /// `POST /v1/providers` [providers:write]: registers a provider of the caller's tenant.
    pub async fn create(&self, provider: &NewProvider) -> Result<CreatedProvider> {
        self.call(Method::POST, &["v1", "providers"]).json(provider)?.send().await
    }

    /// `GET /v1/providers`: the caller's own providers, with owner fields.
    pub async fn list_own(&self) -> Result<ProviderList> {
        self.call(Method::GET, &["v1", "providers"]).send().await
    }

    /// `GET /v1/providers/{id}`: the whole profile for its owner, the directory entry for others.
    pub async fn get(&self, id: &ProviderId) -> Result<Provider> {
        self.call(Method::GET, &["v1", "providers", id.as_str()]).send().await
    }

    /// `GET /v1/providers/search`: active providers by capability and minimum trust tier.
    pub async fn search(&self, search: &ProviderSearch) -> Result<ProviderList> {
        let tags = (!search.skill_tags.is_empty()).then(|| search.skill_tags.join(","));
        self.call(Method::GET, &["v1", "providers", "search"])
            .query(&[
                ("skill_tags", tags),
                ("min_trust", search.min_trust.clone()),
                ("limit", search.limit.map(|l| l.to_string())),
            ])
            .send()
            .await
    }

    /// `GET /v1/providers/{id}/a2a`: the provider's A2A agent card; before one is published,
    /// a card derived from the profile (`aex.published` is `false`).
    pub async fn a2a(&self, id: &ProviderId) -> Result<AgentCard> {
        self.call(Method::GET, &["v1", "providers", id.as_str(), "a2a"]).send().await
    }

    /// `POST /v1/providers/{id}/agent-card` [providers:write]: publishes the A2A agent card of
    /// the caller's own provider; its skill ids and tags become searchable `skill_tags`.
    pub async fn publish_agent_card(&self, id: &ProviderId, card: &AgentCard) -> Result<AgentCard> {
        self.call(Method::POST, &["v1", "providers", id.as_str(), "agent-card"]).json(card)?.send().await
    }
}
