//! Evaluation (bid-evaluator): how the bids on a closed work were ranked and why some were
//! disqualified. `GET /v1/work/{id}/evaluation`, for the work's owner.
//!
//! ```no_run
//! # async fn demo(client: aex_client::Client, work: aex_types::WorkId) -> aex_client::Result<()> {
//! let evaluation = client.evaluations().get(&work).await?;
//! for ranked in &evaluation.ranked_bids {
//!     println!("#{} {} score {:.3}", ranked.rank, ranked.bid_id, ranked.total_score);
//! }
//! if !evaluation.degraded.is_empty() {
//!     println!("evaluated without: {:?}", evaluation.degraded);
//! }
//! # Ok(())
//! # }
//! ```

use crate::client::{Client, resource};
use crate::error::Result;
use crate::marketplace::BidStrategy;
use aex_types::{BidId, EvaluationId, ProviderId, Timestamp, WorkId};
use reqwest::Method;
use serde::Deserialize;

/// Component scores in [0, 1]; `None` when the data was unavailable (see `degraded`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
pub struct Scores {
    pub price: Option<f64>,
    pub trust: Option<f64>,
    pub confidence: Option<f64>,
    pub mvp_sample: Option<f64>,
    pub sla: Option<f64>,
    pub certification: Option<f64>,
}

/// One ranked bid.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RankedBid {
    /// 1 is the best.
    pub rank: i64,
    pub bid_id: BidId,
    pub provider_id: ProviderId,
    pub price_minor: i64,
    pub total_score: f64,
    pub scores: Scores,
}

/// A bid left out of the ranking.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DisqualifiedBid {
    pub bid_id: BidId,
    pub provider_id: ProviderId,
    /// E.g. over budget, expired, SLA latency over the constraint, below `min_trust_tier`.
    pub reason: String,
}

/// The latest evaluation of a work.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Evaluation {
    pub evaluation_id: EvaluationId,
    pub work_id: WorkId,
    pub strategy: BidStrategy,
    pub total_bids: i64,
    pub valid_bids: i64,
    pub ranked_bids: Vec<RankedBid>,
    pub disqualified_bids: Vec<DisqualifiedBid>,
    /// Inputs that were unavailable (e.g. `trust`), whose weights were renormalized away.
    pub degraded: Vec<String>,
    pub evaluated_at: Timestamp,
}

resource!(
    /// Evaluations: `client.evaluations()`.
    Evaluations
);

impl Client {
    /// Evaluations (bid-evaluator).
    pub fn evaluations(&self) -> Evaluations<'_> {
        Evaluations::new(self)
    }
}

impl Evaluations<'_> {
    /// `GET /v1/work/{id}/evaluation`: the owner only; 404 before the window closed.
    pub async fn get(&self, work: &WorkId) -> Result<Evaluation> {
        self.call(Method::GET, &["v1", "work", work.as_str(), "evaluation"]).send().await
    }
}
