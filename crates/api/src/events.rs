//! Event types of the platform. The event type is also the logical NATS subject; streams are
//! listed in ARCHITECTURE.md §5.

pub const WORK_SUBMITTED: &str = "work.submitted";
pub const WORK_BID_WINDOW_CLOSED: &str = "work.bid_window_closed";
pub const WORK_CANCELLED: &str = "work.cancelled";
pub const BID_SUBMITTED: &str = "bid.submitted";
pub const BIDS_EVALUATED: &str = "bids.evaluated";
pub const CONTRACT_AWARDED: &str = "contract.awarded";
pub const CONTRACT_STARTED: &str = "contract.started";
pub const CONTRACT_COMPLETED: &str = "contract.completed";
pub const CONTRACT_FAILED: &str = "contract.failed";
pub const SETTLEMENT_HOLD_PLACED: &str = "settlement.hold_placed";
pub const SETTLEMENT_COMPLETED: &str = "settlement.completed";
pub const SETTLEMENT_RELEASED: &str = "settlement.released";
pub const TRUST_SCORE_UPDATED: &str = "trust.score_updated";
pub const TRUST_TIER_CHANGED: &str = "trust.tier_changed";
pub const REPUTATION_UPDATED: &str = "reputation.updated";
pub const CERTIFICATE_REQUESTED: &str = "certificate.requested";
pub const CERTIFICATE_ISSUED: &str = "certificate.issued";
pub const CERTIFICATE_RENEWED: &str = "certificate.renewed";
pub const CERTIFICATE_REVOKED: &str = "certificate.revoked";
pub const CRL_UPDATED: &str = "crl.updated";
pub const APIKEY_REVOKED: &str = "apikey.revoked";

use serde::{Deserialize, Serialize};

/// `contract.completed` and `contract.failed`: the outcome of a contract, from work-publisher.
/// A completion with `success: false` is a failure for settlement.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContractOutcome {
    pub contract_id: String,
    pub work_id: String,
    pub consumer_tenant_id: String,
    pub provider_tenant_id: String,
    pub provider_id: String,
    pub success: bool,
    /// Why a contract failed, was cancelled or expired.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `contract.awarded`: escrow is held and the work has its one contract. Bids are open by now,
/// so the agreed price may travel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContractAwarded {
    pub contract_id: String,
    pub work_id: String,
    pub bid_id: String,
    pub consumer_tenant_id: String,
    pub provider_tenant_id: String,
    pub provider_id: String,
    pub currency: String,
    pub agreed_price_minor: i64,
    /// `consumer` or `auto`.
    pub awarded_by: String,
    /// RFC 3339.
    pub awarded_at: String,
    /// RFC 3339: the deadline after which the contract expires.
    pub expires_at: String,
}

/// `contract.started`: the winning provider's first progress report (AWARDED → EXECUTING).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContractStarted {
    pub contract_id: String,
    pub work_id: String,
    pub consumer_tenant_id: String,
    pub provider_tenant_id: String,
    pub provider_id: String,
    /// RFC 3339.
    pub started_at: String,
}

/// `settlement.hold_placed`: the consumer's funds for a contract are in escrow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HoldPlaced {
    pub contract_id: String,
    pub consumer_tenant_id: String,
    pub provider_id: String,
    pub amount_minor: i64,
    pub currency: String,
}

/// `settlement.completed`: the escrow was paid out with its fee split.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SettlementCompleted {
    pub contract_id: String,
    pub work_id: Option<String>,
    pub category: Option<String>,
    pub consumer_tenant_id: String,
    pub provider_tenant_id: String,
    pub provider_id: String,
    pub currency: String,
    pub price_minor: i64,
    pub platform_fee_minor: i64,
    pub protocol_fee_minor: i64,
    pub payout_minor: i64,
    pub tier: String,
    pub journal_seq: i64,
}

/// `settlement.released`: the escrow went back to the consumer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SettlementReleased {
    pub contract_id: String,
    pub consumer_tenant_id: String,
    pub provider_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: Option<String>,
}

/// `work.submitted`: a consumer published work; providers may bid until `bid_window_ends_at`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WorkSubmitted {
    pub work_id: String,
    pub consumer_tenant_id: String,
    pub category: String,
    pub currency: String,
    pub max_price_minor: i64,
    pub bid_strategy: String,
    /// RFC 3339.
    pub bid_window_ends_at: String,
    pub auto_award: bool,
    pub providers_notified: i64,
}

/// `work.bid_window_closed`: the sealed bids of a work may now be evaluated. Everything the
/// evaluator needs except the bids themselves (fetched from work-publisher's internal API);
/// it carries no bid price.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkBidWindowClosed {
    pub work_id: String,
    pub consumer_tenant_id: String,
    pub category: String,
    pub currency: String,
    pub max_price: String,
    pub max_price_minor: i64,
    #[serde(default)]
    pub max_cpa_bonus_minor: Option<i64>,
    pub bid_strategy: String,
    pub constraints: serde_json::Value,
    pub auto_award: bool,
    pub bid_count: i64,
    /// RFC 3339.
    pub closed_at: String,
}

/// `work.cancelled`: the owner cancelled the work before award.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WorkCancelled {
    pub work_id: String,
    pub consumer_tenant_id: String,
    pub previous_status: String,
}

/// `bid.submitted`: a provider bid (or re-bid) on a work. Sealed: no price or terms.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BidSubmitted {
    pub bid_id: String,
    pub work_id: String,
    pub provider_id: String,
    pub provider_tenant_id: String,
    /// The bid this one replaced, for a re-bid.
    #[serde(default)]
    pub replaces_bid_id: Option<String>,
    /// RFC 3339.
    pub received_at: String,
}

/// The five reputation components of ARCHITECTURE.md §8, each in [0, 1].
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct ReputationComponents {
    pub transaction: f64,
    pub success_rate: f64,
    pub volume: f64,
    pub consistency: f64,
    pub certification: f64,
}

/// `reputation.updated`: certauth recomputed a provider's reputation (after an outcome, a
/// settlement or a certificate change).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReputationUpdated {
    pub provider_id: String,
    pub provider_tenant_id: Option<String>,
    pub score: f64,
    pub tier: String,
    pub components: ReputationComponents,
    /// Anti-gaming flags, e.g. `SELF_DEALING`.
    pub flags: Vec<String>,
    pub contracts: u32,
    pub successes: u32,
    pub updated_at: String,
}

/// `trust.score_updated`: a provider's recency-weighted outcome score after a recompute.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrustScoreUpdated {
    pub provider_id: String,
    pub trust_score: f64,
    pub previous_trust_score: Option<f64>,
    pub contracts: u32,
    pub updated_at: String,
}

/// `trust.tier_changed`: a provider moved between BRONZE, SILVER, GOLD and PLATINUM.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TrustTierChanged {
    pub provider_id: String,
    /// None for a provider's first tier.
    pub previous_tier: Option<String>,
    pub tier: String,
    pub updated_at: String,
}

/// `bids.evaluated`: the ranking of a work's bids after its window closed (or a re-evaluation
/// requested by a platform service). Work-publisher awards from it when `auto_award` is set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BidsEvaluated {
    pub work_id: String,
    pub evaluation_id: String,
    pub consumer_tenant_id: String,
    pub strategy: String,
    pub auto_award: bool,
    pub total_bids: i64,
    pub valid_bids: i64,
    /// Best first.
    pub ranking: Vec<EvaluatedBid>,
    /// Components left out for lack of data (`trust`, `certification`).
    pub degraded: Vec<String>,
    /// RFC 3339.
    pub evaluated_at: String,
}

/// One ranked bid of a `bids.evaluated` event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EvaluatedBid {
    pub rank: i64,
    pub bid_id: String,
    pub provider_id: String,
    pub price_minor: i64,
    pub total_score: f64,
}
