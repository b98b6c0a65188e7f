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
