//! Awards and contracts: `POST /v1/work/{id}/award`, `GET /v1/contracts/{id}`,
//! `POST /v1/contracts/{id}/progress|complete|fail`.
//!
//! Money as on the work routes: the decimal string (`agreed_price`, like a budget's
//! `max_price`) plus the exact `agreed_price_minor` and the currency.

use crate::client::{Client, resource};
use crate::error::Result;
use aex_types::{BidId, ContractId, Currency, Money, ProviderId, TenantId, Timestamp, WorkId};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /v1/work/{id}/award`: a chosen bid, or the evaluator's best.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Award {
    /// `{"bid_id": …}`.
    Bid(BidId),
    /// `{"auto_award": true}`: the best-ranked bid.
    Auto,
}

impl Serialize for Award {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct ByBid<'a> {
            bid_id: &'a BidId,
        }
        #[derive(Serialize)]
        struct Automatic {
            auto_award: bool,
        }
        match self {
            Award::Bid(bid_id) => ByBid { bid_id }.serialize(serializer),
            Award::Auto => Automatic { auto_award: true }.serialize(serializer),
        }
    }
}

/// What the winning provider last reported.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ContractProgress {
    /// 0–100.
    pub percent: Option<u8>,
    pub status: Option<String>,
    pub message: Option<String>,
}

/// A contract as its two parties see it: the award's answer, and that of `get`, `progress`
/// and `fail`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Contract {
    pub contract_id: ContractId,
    pub work_id: WorkId,
    pub bid_id: BidId,
    pub consumer_tenant_id: TenantId,
    pub provider_tenant_id: TenantId,
    pub provider_id: ProviderId,
    /// Decimal string in major units, like a budget's `max_price`.
    pub agreed_price: String,
    pub agreed_price_minor: i64,
    pub currency: Currency,
    /// `AWARDED`, `EXECUTING`, `COMPLETED`, `FAILED`, `EXPIRED` or `DISPUTED`.
    pub status: String,
    /// Where the consumer reaches the provider's agent (the bid's A2A endpoint).
    pub provider_endpoint: String,
    /// Who awarded: the owner, or the platform for `auto_award`.
    pub awarded_by: String,
    pub progress: ContractProgress,
    pub result_summary: Option<String>,
    pub result_location: Option<String>,
    pub metrics: Option<Value>,
    pub failure_reason: Option<String>,
    pub failure_message: Option<String>,
    pub failed_by: Option<String>,
    /// The deadline for completion; the contract expires (and the escrow returns) after it.
    pub expires_at: Timestamp,
    pub awarded_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub failed_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

impl Contract {
    /// The agreed price as exact money.
    pub fn agreed_price(&self) -> Money {
        Money::from_minor(self.agreed_price_minor, self.currency)
    }
}

/// `POST /v1/contracts/{id}/progress`: the winning provider's report.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ProgressReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// 0–100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `POST /v1/contracts/{id}/complete`: the winning provider's result.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ContractResult {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Map<String, Value>>,
    /// An absolute http(s) URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_location: Option<String>,
}

/// The answer to `complete`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Completion {
    pub contract_id: ContractId,
    /// `COMPLETED`, or `FAILED` for `success: false`.
    pub status: String,
    pub completed_at: Option<Timestamp>,
    /// Whether the provider's payout was handed to settlement.
    pub settlement_initiated: bool,
}

/// `POST /v1/contracts/{id}/fail`: by the provider or the consumer (the reporting party comes
/// from the credentials).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ContractFailure {
    /// A short code: letters, digits, `_ - .` or space.
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

resource!(
    /// Awards and contracts: `client.contracts()`.
    Contracts
);

impl Client {
    /// Awards and contracts (work-publisher).
    pub fn contracts(&self) -> Contracts<'_> {
        Contracts::new(self)
    }
}

impl Contracts<'_> {
    /// `POST /v1/work/{id}/award` [contracts:write]: the owner awards a bid. Places the escrow
    /// hold: 402 `INSUFFICIENT_FUNDS` if it cannot, 409 `WORK_ALREADY_AWARDED` if the work is
    /// already awarded.
    pub async fn award(&self, work: &WorkId, award: &Award) -> Result<Contract> {
        self.call(Method::POST, &["v1", "work", work.as_str(), "award"]).json(award)?.send().await
    }

    /// `GET /v1/contracts/{id}`: the two parties only.
    pub async fn get(&self, id: &ContractId) -> Result<Contract> {
        self.call(Method::GET, &["v1", "contracts", id.as_str()]).send().await
    }

    /// `POST /v1/contracts/{id}/progress` [contracts:write]: the winning provider only.
    pub async fn report_progress(&self, id: &ContractId, report: &ProgressReport) -> Result<Contract> {
        self.call(Method::POST, &["v1", "contracts", id.as_str(), "progress"]).json(report)?.send().await
    }

    /// `POST /v1/contracts/{id}/complete` [contracts:write]: the winning provider only;
    /// success starts settlement.
    pub async fn complete(&self, id: &ContractId, result: &ContractResult) -> Result<Completion> {
        self.call(Method::POST, &["v1", "contracts", id.as_str(), "complete"]).json(result)?.send().await
    }

    /// `POST /v1/contracts/{id}/fail` [contracts:write]: provider or consumer; the escrow returns.
    pub async fn fail(&self, id: &ContractId, failure: &ContractFailure) -> Result<Contract> {
        self.call(Method::POST, &["v1", "contracts", id.as_str(), "fail"]).json(failure)?.send().await
    }
}
