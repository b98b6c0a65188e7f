//! Fees and the market feed: `GET /v1/fees/policy`, `GET /v1/fees/tiers/{provider_id}`,
//! `GET /v1/market/feed` (public, delayed) and `GET /v1/market/feed/premium`.

use crate::client::{Client, resource};
use crate::error::Result;
use aex_types::{Currency, Money};
use reqwest::Method;
use serde::Deserialize;

/// One protocol-fee tier: applies from `min_volume_30d_minor` of rolling 30-day settled volume.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ProtocolFeeTier {
    pub tier: String,
    pub min_volume_30d_minor: i64,
    pub bps: u32,
    pub fixed_minor: i64,
}

/// The fee policy in force.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FeePolicy {
    pub version: String,
    /// The rounding rule (`half_even`).
    pub rounding: String,
    pub platform_fee_bps: u32,
    /// Highest threshold first.
    pub protocol_fee_tiers: Vec<ProtocolFeeTier>,
}

/// A provider's protocol-fee tier and rolling 30-day volume.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ProviderTier {
    pub provider_id: String,
    pub currency: Currency,
    pub tier: String,
    pub volume_30d: String,
    pub volume_30d_minor: i64,
    pub protocol_fee_bps: u32,
    pub protocol_fee_fixed_minor: i64,
    pub next_tier: Option<String>,
    pub next_tier_volume_minor: Option<i64>,
    pub fee_policy_version: String,
}

impl ProviderTier {
    /// The 30-day volume as exact money.
    pub fn volume_30d(&self) -> Money {
        Money::from_minor(self.volume_30d_minor, self.currency)
    }
}

/// One category's settled deals in the feed's window.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct MarketLine {
    pub category: String,
    pub currency: Currency,
    pub deals: i64,
    pub volume_minor: i64,
    pub median_price_minor: i64,
}

/// The market feed: per category, without any category of fewer than
/// `min_deals_per_category` deals.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct MarketFeed {
    /// 1 or more for the public feed, 0 for premium.
    pub delayed_hours: i32,
    pub window_hours: i32,
    pub min_deals_per_category: i64,
    pub categories: Vec<MarketLine>,
}

resource!(
    /// Fee policy and tiers: `client.fees()`.
    Fees
);

resource!(
    /// The market feed: `client.market()`.
    Market
);

impl Client {
    /// Fees (settlement).
    pub fn fees(&self) -> Fees<'_> {
        Fees::new(self)
    }

    /// The market feed (settlement).
    pub fn market(&self) -> Market<'_> {
        Market::new(self)
    }
}

impl Fees<'_> {
    /// `GET /v1/fees/policy`.
    pub async fn policy(&self) -> Result<FeePolicy> {
        self.call(Method::GET, &["v1", "fees", "policy"]).send().await
    }

    /// `GET /v1/fees/tiers/{provider_id}`: the provider's own tenant (or the operator) sees its
    /// volume; a provider without settled history is at the entry tier.
    pub async fn tier(&self, provider_id: &str, currency: Option<Currency>) -> Result<ProviderTier> {
        self.call(Method::GET, &["v1", "fees", "tiers", provider_id]).query(&[("currency", currency)]).send().await
    }
}

impl Market<'_> {
    /// `GET /v1/market/feed` (public): delayed at least an hour.
    pub async fn feed(&self) -> Result<MarketFeed> {
        self.call(Method::GET, &["v1", "market", "feed"]).anonymous().send().await
    }

    /// `GET /v1/market/feed/premium`: not delayed; needs credentials.
    pub async fn premium_feed(&self) -> Result<MarketFeed> {
        self.call(Method::GET, &["v1", "market", "feed", "premium"]).send().await
    }
}
