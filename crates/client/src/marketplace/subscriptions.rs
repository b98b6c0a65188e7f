//! Subscriptions: `POST/GET /v1/subscriptions`. Which work categories a provider of the caller
//! hears about, filtered, and how (signed webhook or polling `GET /v1/work?status=OPEN`).

use crate::auth::Secret;
use crate::client::{Client, resource};
use crate::decimal;
use crate::error::Result;
use aex_types::{Currency, Money, ProviderId, SubscriptionId, Timestamp};
use reqwest::Method;
use serde::{Deserialize, Serialize, Serializer};

/// How matching work is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMethod {
    /// A signed POST to `webhook_url`.
    Webhook,
    /// The provider polls `GET /v1/work?status=OPEN`.
    Polling,
}

/// The delivery of a new subscription.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Delivery {
    pub method: DeliveryMethod,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// 16–256 visible ASCII characters; write-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<Secret>,
}

impl Delivery {
    /// The provider polls.
    pub fn polling() -> Self {
        Self { method: DeliveryMethod::Polling, webhook_url: None, webhook_secret: None }
    }

    /// Signed webhooks to `url` with `secret`.
    pub fn webhook(url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            method: DeliveryMethod::Webhook,
            webhook_url: Some(url.into()),
            webhook_secret: Some(Secret::new(secret)),
        }
    }
}

/// Filters applied to matching work; all optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubscriptionFilters {
    /// Only work whose budget reaches this (in its currency).
    pub min_budget: Option<Money>,
    pub max_latency_ms: Option<i64>,
    pub regions: Option<Vec<String>>,
}

impl Serialize for SubscriptionFilters {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(serialize_with = "decimal::optional_amount", skip_serializing_if = "Option::is_none")]
            min_budget: Option<Money>,
            #[serde(skip_serializing_if = "Option::is_none")]
            currency: Option<Currency>,
            #[serde(skip_serializing_if = "Option::is_none")]
            max_latency_ms: Option<i64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            regions: Option<&'a Vec<String>>,
        }
        Wire {
            min_budget: self.min_budget,
            currency: self.min_budget.map(|m| m.currency()),
            max_latency_ms: self.max_latency_ms,
            regions: self.regions.as_ref(),
        }
        .serialize(serializer)
    }
}

/// `POST /v1/subscriptions` [providers:write].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NewSubscription {
    /// One of the caller's own providers.
    pub provider_id: ProviderId,
    /// 1–32 globs such as `translation.*` or `*`.
    pub categories: Vec<String>,
    pub filters: SubscriptionFilters,
    pub delivery: Delivery,
}

/// The filters of a subscription as stored.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct FiltersView {
    pub min_budget: Option<String>,
    pub min_budget_minor: Option<i64>,
    pub currency: Currency,
    pub max_latency_ms: Option<i64>,
    pub regions: Option<Vec<String>>,
}

/// The delivery of a subscription as stored; the secret is never returned.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DeliveryView {
    pub method: DeliveryMethod,
    pub webhook_url: Option<String>,
    pub has_webhook_secret: bool,
}

/// A subscription.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Subscription {
    pub subscription_id: SubscriptionId,
    pub provider_id: ProviderId,
    pub categories: Vec<String>,
    pub filters: FiltersView,
    pub delivery: DeliveryView,
    pub status: String,
    pub created_at: Timestamp,
}

/// `GET /v1/subscriptions` (not paginated).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SubscriptionList {
    pub subscriptions: Vec<Subscription>,
    pub total: u64,
}

resource!(
    /// Subscriptions: `client.subscriptions()`.
    Subscriptions
);

impl Client {
    /// Subscriptions (work-publisher).
    pub fn subscriptions(&self) -> Subscriptions<'_> {
        Subscriptions::new(self)
    }
}

impl Subscriptions<'_> {
    /// `POST /v1/subscriptions` [providers:write].
    pub async fn create(&self, subscription: &NewSubscription) -> Result<Subscription> {
        self.call(Method::POST, &["v1", "subscriptions"]).json(subscription)?.send().await
    }

    /// `GET /v1/subscriptions`: the caller's subscriptions.
    pub async fn list(&self) -> Result<SubscriptionList> {
        self.call(Method::GET, &["v1", "subscriptions"]).send().await
    }
}
