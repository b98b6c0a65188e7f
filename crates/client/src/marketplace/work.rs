//! Work and sealed bids: `POST/GET /v1/work`, `GET /v1/work/{id}`, `POST /v1/work/{id}/cancel`,
//! `POST /v1/bids`, `GET /v1/work/{id}/bids`.

use crate::client::{Client, resource};
use crate::decimal;
use crate::error::{Error, Result};
use crate::page::{Page, PageParams, walk};
use aex_types::{BidId, Currency, Money, ProviderId, TenantId, Timestamp, WorkId};
use futures::stream::BoxStream;
use reqwest::Method;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// How the evaluator weighs the bids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BidStrategy {
    /// Price 0.25, trust 0.25, confidence 0.15, sample 0.10, SLA 0.10, certification 0.15.
    #[default]
    Balanced,
    LowestPrice,
    BestQuality,
}

/// The budget of new work. The price and bonus are sent as decimal strings with the price's currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub max_price: Money,
    pub bid_strategy: BidStrategy,
    /// A bonus per successful outcome, in the price's currency.
    pub max_cpa_bonus: Option<Money>,
}

impl Budget {
    /// A balanced budget up to `max_price`.
    pub fn new(max_price: Money) -> Self {
        Self { max_price, bid_strategy: BidStrategy::Balanced, max_cpa_bonus: None }
    }
}

impl Serialize for Budget {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire {
            #[serde(serialize_with = "decimal::amount")]
            max_price: Money,
            currency: Currency,
            bid_strategy: BidStrategy,
            #[serde(serialize_with = "decimal::optional_amount", skip_serializing_if = "Option::is_none")]
            max_cpa_bonus: Option<Money>,
        }
        if let Some(bonus) = self.max_cpa_bonus
            && bonus.currency() != self.max_price.currency()
        {
            return Err(serde::ser::Error::custom("budget.max_cpa_bonus must be in the currency of max_price"));
        }
        Wire {
            max_price: self.max_price,
            currency: self.max_price.currency(),
            bid_strategy: self.bid_strategy,
            max_cpa_bonus: self.max_cpa_bonus,
        }
        .serialize(serializer)
    }
}

/// What a bid must satisfy; every field optional. Also how the service shows them back.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Constraints {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_fields: Option<Vec<String>>,
    /// `BRONZE`, `SILVER`, `GOLD` or `PLATINUM`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_trust_tier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_capabilities: Option<Vec<String>>,
    pub internal_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
}

/// `POST /v1/work` [work:submit].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NewWork {
    /// Dot-separated words, e.g. `translation.legal`.
    pub category: String,
    pub description: String,
    pub budget: Budget,
    pub constraints: Constraints,
    pub success_criteria: Vec<Value>,
    /// 5 000–300 000 (clamped), default 30 000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bid_window_ms: Option<u32>,
    /// Award the best bid when the window closes.
    pub auto_award: bool,
    pub payload: Value,
}

impl NewWork {
    /// Work with a category, a description and a budget, default everything else.
    pub fn new(category: impl Into<String>, description: impl Into<String>, budget: Budget) -> Self {
        Self {
            category: category.into(),
            description: description.into(),
            budget,
            constraints: Constraints::default(),
            success_criteria: Vec::new(),
            bid_window_ms: None,
            auto_award: false,
            payload: Value::Null,
        }
    }
}

/// The answer to `POST /v1/work`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SubmittedWork {
    pub work_id: WorkId,
    /// `OPEN`.
    pub status: String,
    pub bid_window_ends_at: Timestamp,
    pub providers_notified: i32,
    pub created_at: Timestamp,
}

/// A budget as the service shows it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct BudgetView {
    /// Decimal string in major units.
    pub max_price: String,
    pub max_price_minor: i64,
    pub currency: Currency,
    pub bid_strategy: BidStrategy,
    pub max_cpa_bonus: Option<String>,
}

impl BudgetView {
    /// The maximum price as exact money.
    pub fn max_price(&self) -> Money {
        Money::from_minor(self.max_price_minor, self.currency)
    }
}

/// A unit of work as its consumer, and matched providers, see it; never with bids.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct WorkItem {
    pub work_id: WorkId,
    pub consumer_tenant_id: TenantId,
    pub category: String,
    pub description: String,
    /// `OPEN`, `EVALUATING`, `AWARDED`, `EXECUTING`, `COMPLETED`, `FAILED`, `CANCELLED`.
    pub status: String,
    pub budget: BudgetView,
    pub constraints: Constraints,
    pub success_criteria: Value,
    pub payload: Value,
    pub auto_award: bool,
    pub bid_window_ms: i32,
    pub bid_window_ends_at: Timestamp,
    pub providers_notified: i32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
}

/// `GET /v1/work` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListWork {
    /// Only work in this status; `OPEN` also lists others' open work the caller's subscriptions match.
    pub status: Option<String>,
    /// 1–200, default 50.
    pub page: PageParams,
}

resource!(
    /// Work: `client.work()`.
    Work
);

resource!(
    /// Sealed bids: `client.bids()`.
    Bids
);

impl Client {
    /// Work (work-publisher).
    pub fn work(&self) -> Work<'_> {
        Work::new(self)
    }

    /// Sealed bids (work-publisher).
    pub fn bids(&self) -> Bids<'_> {
        Bids::new(self)
    }
}

impl Work<'_> {
    /// `POST /v1/work` [work:submit]: publishes work; its bid window starts now.
    pub async fn submit(&self, work: &NewWork) -> Result<SubmittedWork> {
        self.call(Method::POST, &["v1", "work"]).json(work)?.send().await
    }

    /// `GET /v1/work`: one page of the caller's work (newest first).
    pub async fn list(&self, query: &ListWork) -> Result<Page<WorkItem>> {
        let value = self
            .call(Method::GET, &["v1", "work"])
            .query(&[("status", query.status.as_deref())])
            .query(&query.page.pairs())
            .send()
            .await?;
        Page::decode(value, "work")
    }

    /// Every work item of `GET /v1/work`, page after page.
    pub fn list_all(&self, query: ListWork) -> BoxStream<'static, Result<WorkItem>> {
        let client = self.client.clone();
        walk(query.page, move |page| {
            let (client, query) = (client.clone(), ListWork { page, ..query.clone() });
            async move { client.work().list(&query).await }
        })
    }

    /// `GET /v1/work/{id}`: 404 for work the caller may not see.
    pub async fn get(&self, id: &WorkId) -> Result<WorkItem> {
        self.call(Method::GET, &["v1", "work", id.as_str()]).send().await
    }

    /// `POST /v1/work/{id}/cancel` [work:submit]: the owner, from `OPEN` or `EVALUATING`
    /// (else 409 `INVALID_WORK_STATE`).
    pub async fn cancel(&self, id: &WorkId) -> Result<WorkItem> {
        self.call(Method::POST, &["v1", "work", id.as_str(), "cancel"]).send().await
    }
}

/// The service level a bid promises.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Sla {
    pub max_latency_ms: i64,
    /// In [0, 1].
    pub availability: f64,
}

/// `POST /v1/bids` [bids:submit]. The provider is the caller's (named, or its only one).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NewBid {
    pub work_id: WorkId,
    /// Needed when the caller's tenant has several providers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<ProviderId>,
    /// In the work's currency; sent as a decimal string.
    #[serde(serialize_with = "decimal::amount")]
    pub price: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_breakdown: Option<Value>,
    /// In [0, 1].
    pub confidence: f64,
    pub approach: String,
    pub estimated_latency_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mvp_sample: Option<Value>,
    pub sla: Sla,
    pub a2a_endpoint: String,
    pub expires_at: Timestamp,
}

/// The answer to `POST /v1/bids`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ReceivedBid {
    pub bid_id: BidId,
    pub work_id: WorkId,
    pub provider_id: ProviderId,
    /// `RECEIVED`.
    pub status: String,
    /// The provider's earlier bid this one replaced, if any.
    pub replaced_bid_id: Option<BidId>,
    pub received_at: Timestamp,
}

/// A bid with its price: for its own bidder, or for the work's owner after the window closed.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Bid {
    pub bid_id: BidId,
    pub work_id: WorkId,
    pub provider_id: ProviderId,
    pub provider_tenant_id: TenantId,
    pub price: String,
    pub price_minor: i64,
    pub currency: Currency,
    pub price_breakdown: Option<Value>,
    pub confidence: f64,
    pub approach: String,
    pub estimated_latency_ms: i64,
    pub mvp_sample: Option<Value>,
    pub sla: Sla,
    pub a2a_endpoint: String,
    pub expires_at: Timestamp,
    pub status: String,
    pub revision: i32,
    pub received_at: Timestamp,
}

impl Bid {
    /// The price as exact money.
    pub fn price(&self) -> Money {
        Money::from_minor(self.price_minor, self.currency)
    }
}

/// `GET /v1/work/{id}/bids` (not paginated).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct BidList {
    pub work_id: WorkId,
    pub work_status: String,
    pub bids: Vec<Bid>,
    pub total: u64,
}

impl Bids<'_> {
    /// `POST /v1/bids` [bids:submit]: a sealed bid; a re-bid before close replaces the earlier one.
    pub async fn submit(&self, bid: &NewBid) -> Result<ReceivedBid> {
        if !(0.0..=1.0).contains(&bid.confidence) {
            return Err(Error::InvalidInput("confidence must be between 0 and 1".to_string()));
        }
        self.call(Method::POST, &["v1", "bids"]).json(bid)?.send().await
    }

    /// `GET /v1/work/{id}/bids`: every bid for the owner after close (409 `BIDS_SEALED`
    /// before); only its own for a provider.
    pub async fn for_work(&self, work: &WorkId) -> Result<BidList> {
        self.call(Method::GET, &["v1", "work", work.as_str(), "bids"]).send().await
    }
}
