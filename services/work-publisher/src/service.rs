//! Orchestration that spans stores and events: each function is one short transaction that
//! writes the state change and its outbox event together.

use crate::domain::work::WorkStatus;
use crate::error::{Error, Result};
use crate::store::bids::{self, BidRow, NewBid};
use crate::store::subscriptions::{self, SubscriptionRow};
use crate::store::webhooks::{self, NewDelivery};
use crate::store::work::{self, NewWork, WorkRow};
use aex_api::events as subjects;
use aex_common::events::outbox::{self, NewEvent};
use aex_types::Money;
use sqlx::PgPool;
use std::collections::HashSet;

pub const SOURCE: &str = "work-publisher";

/// Publishes work: counts the distinct providers whose subscriptions match, inserts the OPEN
/// work with its window deadline, and records `work.submitted`, in one transaction.
pub async fn submit_work(pool: &PgPool, mut new: NewWork) -> Result<WorkRow> {
    let mut tx = pool.begin().await?;
    let candidates = subscriptions::active_except(&mut *tx, &new.tenant_id).await?;
    let facts = crate::domain::matching::WorkFacts {
        category: &new.category,
        currency: new.currency.code(),
        max_price_minor: new.max_price_minor,
        max_latency_ms: new.max_latency_ms,
        regions: new.regions.as_deref(),
    };
    let matched: Vec<&SubscriptionRow> = candidates.iter().filter(|s| s.filter().matches(&facts)).collect();
    let notified: HashSet<&str> = matched.iter().map(|s| s.provider_id.as_str()).collect();
    new.providers_notified = i32::try_from(notified.len()).unwrap_or(i32::MAX);
    let row = work::insert(&mut tx, &new).await?;
    let data = subjects::WorkSubmitted {
        work_id: row.id.clone(),
        consumer_tenant_id: row.tenant_id.clone(),
        category: row.category.clone(),
        currency: row.currency.code().to_string(),
        max_price_minor: row.max_price_minor,
        bid_strategy: row.bid_strategy.clone(),
        bid_window_ends_at: row.bid_window_ends_at.to_string(),
        auto_award: row.auto_award,
        providers_notified: i64::from(row.providers_notified),
    };
    let envelope =
        outbox::enqueue(&mut tx, SOURCE, NewEvent::new(subjects::WORK_SUBMITTED, &data).tenant(&row.tenant_id)).await?;
    // One signed notification per provider, through its first matching webhook subscription.
    let mut by_webhook: HashSet<&str> = HashSet::new();
    for subscription in matched.iter().filter(|s| s.delivery_method == "webhook") {
        let Some(url) = subscription.webhook_url.as_deref() else { continue };
        if !by_webhook.insert(subscription.provider_id.as_str()) {
            continue;
        }
        let delivery = NewDelivery {
            id: aex_types::WebhookDeliveryId::new().to_string(),
            event_id: envelope.event_id.clone(),
            event_type: subjects::WORK_SUBMITTED.to_string(),
            subscription_id: subscription.id.clone(),
            provider_id: subscription.provider_id.clone(),
            work_id: row.id.clone(),
            url: url.to_string(),
            payload: notification(&row, &envelope.event_id, subscription),
        };
        webhooks::insert(&mut tx, &delivery).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// The body of a work notification: what a provider needs to decide whether to bid, never
/// anyone's bids.
fn notification(row: &WorkRow, event_id: &str, subscription: &SubscriptionRow) -> serde_json::Value {
    let currency = row.currency;
    serde_json::json!({
        "event_id": event_id,
        "event_type": subjects::WORK_SUBMITTED,
        "subscription_id": subscription.id,
        "provider_id": subscription.provider_id,
        "work": {
            "work_id": row.id,
            "category": row.category,
            "description": row.description,
            "budget": {
                "max_price": Money::from_minor(row.max_price_minor, currency).to_decimal_string(),
                "max_price_minor": row.max_price_minor,
                "currency": currency.code(),
                "bid_strategy": row.bid_strategy,
            },
            "constraints": row.constraints,
            "success_criteria": row.success_criteria,
            "status": row.status,
            "bid_window_ends_at": row.bid_window_ends_at.to_string(),
            "created_at": row.created_at.to_string(),
        },
    })
}

/// Cancels the owner's work from OPEN or EVALUATING and records `work.cancelled`.
pub async fn cancel_work(pool: &PgPool, tenant_id: &str, work_id: &str) -> Result<WorkRow> {
    let mut tx = pool.begin().await?;
    let row =
        work::get_for_update(&mut tx, work_id).await?.filter(|w| w.tenant_id == tenant_id).ok_or(Error::NotFound)?;
    let from: WorkStatus = row
        .status
        .parse()
        .map_err(|()| Error::Database(sqlx::Error::Protocol(format!("unknown work status {:?}", row.status))))?;
    let to = from.transition(WorkStatus::Cancelled)?;
    // An award in progress (escrow being held) cannot be cancelled under it.
    if let Some(contract) = crate::store::contracts::live_for_work(&mut *tx, work_id).await? {
        return Err(if contract.status == "PENDING" { Error::AwardInProgress } else { Error::AlreadyAwarded });
    }
    if !work::set_status(&mut tx, work_id, from.as_str(), to.as_str()).await? {
        return Err(Error::InvalidWorkState { from: from.as_str(), to: to.as_str() });
    }
    let data = subjects::WorkCancelled {
        work_id: row.id.clone(),
        consumer_tenant_id: row.tenant_id.clone(),
        previous_status: from.as_str().to_string(),
    };
    outbox::enqueue(&mut tx, SOURCE, NewEvent::new(subjects::WORK_CANCELLED, &data).tenant(&row.tenant_id)).await?;
    let row = work::get(&mut *tx, work_id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(row)
}

/// A validated bid whose price is still in the wire's currency-less form.
#[derive(Debug, Clone)]
pub struct BidRequest {
    pub work_id: String,
    pub provider_id: String,
    pub tenant_id: String,
    /// The price text; parsed exactly in the work's currency once the work is known.
    pub price: serde_json::Value,
    pub price_breakdown: Option<serde_json::Value>,
    pub confidence: f64,
    pub approach: String,
    pub estimated_latency_ms: i64,
    pub mvp_sample: Option<serde_json::Value>,
    pub sla: serde_json::Value,
    pub a2a_endpoint: String,
    pub expires_at: aex_types::Timestamp,
}

/// The stored bid and the one it replaced, if any.
#[derive(Debug)]
pub struct PlacedBid {
    pub bid: BidRow,
    pub replaced: Option<String>,
}

/// Places (or replaces) the provider's sealed bid while the work is OPEN and its window open by
/// the database clock. The work row is share-locked until commit, so the window cannot close
/// under the bid; `bid.submitted` carries no price.
pub async fn place_bid(pool: &PgPool, request: BidRequest) -> Result<PlacedBid> {
    let mut tx = pool.begin().await?;
    let (row, window_open) = work::get_for_bid(&mut tx, &request.work_id).await?.ok_or(Error::NotFound)?;
    if row.tenant_id == request.tenant_id {
        return Err(Error::OwnWork);
    }
    if row.status != WorkStatus::Open.as_str() {
        return Err(Error::WorkNotOpen);
    }
    if !window_open {
        return Err(Error::BidWindowClosed);
    }
    let currency = row.currency;
    let price: Money = crate::http::parse_amount(&request.price, currency, "price", false)?;
    bids::lock_provider(&mut tx, &request.provider_id).await?;
    let replaced = bids::current_for_update(&mut tx, &row.id, &request.provider_id).await?;
    let new = NewBid {
        id: aex_types::BidId::new().to_string(),
        work_id: row.id.clone(),
        provider_id: request.provider_id,
        tenant_id: request.tenant_id,
        currency,
        price_minor: price.minor(),
        price_breakdown: request.price_breakdown,
        confidence: request.confidence,
        approach: request.approach,
        estimated_latency_ms: request.estimated_latency_ms,
        mvp_sample: request.mvp_sample,
        sla: request.sla,
        a2a_endpoint: request.a2a_endpoint,
        expires_at: request.expires_at,
    };
    let bid = bids::upsert(&mut tx, &new).await?;
    let data = subjects::BidSubmitted {
        bid_id: bid.id.clone(),
        work_id: bid.work_id.clone(),
        provider_id: bid.provider_id.clone(),
        provider_tenant_id: bid.tenant_id.clone(),
        replaces_bid_id: replaced.clone(),
        received_at: bid.received_at.to_string(),
    };
    outbox::enqueue(&mut tx, SOURCE, NewEvent::new(subjects::BID_SUBMITTED, &data).tenant(&bid.tenant_id)).await?;
    tx.commit().await?;
    Ok(PlacedBid { bid, replaced })
}
