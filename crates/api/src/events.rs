//! Event types of the platform. The event type is also the logical NATS subject; streams are
//! listed in ARCHITECTURE.md §5.

pub const WORK_SUBMITTED: &str = "work.submitted";
pub const WORK_BID_WINDOW_CLOSED: &str = "work.bid_window_closed";
pub const WORK_CANCELLED: &str = "work.cancelled";
pub const BID_SUBMITTED: &str = "bid.submitted";
pub const BIDS_EVALUATED: &str = "bids.evaluated";
pub const CONTRACT_AWARDED: &str = "contract.awarded";
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
