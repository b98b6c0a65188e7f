//! What work-publisher does on other services' events:
//! - `bids.evaluated`: keeps the evaluator's latest ranking (owner awards with
//!   `auto_award:true` read it) and, for work submitted with `auto_award`, awards the best bid;
//! - `trust.tier_changed`: keeps the providers' trust tier, which only certauth decides.
//!
//! Both are safe to repeat: the ranking is replaced only by a newer evaluation, an award finds
//! the work's one contract already there, and a tier is simply set again.

use crate::contracts::{Awarder, Awards, Choice};
use crate::error::Error;
use crate::store::evaluations::{self, EvaluationRow, Ranked};
use aex_api::events::{self as subjects, BidsEvaluated, TrustTierChanged};
use aex_common::events::consumer::{ConsumerConfig, EventHandler, HandlerError, ReceivedEvent};
use aex_types::Timestamp;
use futures::future::BoxFuture;
use sqlx::PgConnection;

/// The durable consumer of evaluations.
pub fn evaluations_consumer() -> ConsumerConfig {
    ConsumerConfig::new("work-publisher-evaluations", "BID", subjects::BIDS_EVALUATED)
}

/// The durable consumer of trust-tier changes.
pub fn trust_consumer() -> ConsumerConfig {
    ConsumerConfig::new("work-publisher-trust", "TRUST", subjects::TRUST_TIER_CHANGED)
}

pub struct Evaluations {
    pub awards: Awards,
}

impl Evaluations {
    async fn apply(&self, event: &ReceivedEvent) -> Result<(), HandlerError> {
        if event.subject != subjects::BIDS_EVALUATED {
            return Ok(());
        }
        let evaluated: BidsEvaluated = event.data()?;
        let evaluated_at = evaluated
            .evaluated_at
            .parse::<Timestamp>()
            .map_err(|_| HandlerError::Permanent("evaluated_at is not an RFC 3339 time".into()))?;
        let row = EvaluationRow {
            work_id: evaluated.work_id.clone(),
            evaluation_id: evaluated.evaluation_id.clone(),
            strategy: evaluated.strategy.clone(),
            ranking: sqlx::types::Json(
                evaluated
                    .ranking
                    .iter()
                    .map(|r| Ranked {
                        rank: r.rank,
                        bid_id: r.bid_id.clone(),
                        provider_id: r.provider_id.clone(),
                        price_minor: r.price_minor,
                        total_score: r.total_score,
                    })
                    .collect(),
            ),
            degraded: evaluated.degraded.clone(),
            evaluated_at,
        };
        // Committed before the award reads it (the award runs its own transactions).
        match evaluations::upsert(&self.awards.pool, &row).await {
            Ok(_) => {}
            Err(error) if crate::error::violated_constraint(&error) == Some("evaluations_work_fkey") => {
                return Err(HandlerError::Permanent(format!("unknown work {}", evaluated.work_id)));
            }
            Err(error) => return Err(error.into()),
        }
        if !evaluated.auto_award {
            return Ok(());
        }
        match self.awards.award(&evaluated.work_id, Awarder::Auto, Choice::Ranking).await {
            Ok(contract) => {
                tracing::info!(work_id = %evaluated.work_id, contract_id = %contract.id, "auto-awarded");
                Ok(())
            }
            Err(Error::SettlementUnavailable | Error::Database(_) | Error::Event(_)) => {
                Err(HandlerError::Retry("settlement or database unavailable; award retried".into()))
            }
            // Already awarded or cancelled, nothing valid to award, or the consumer cannot pay:
            // the owner decides from here.
            Err(error) => {
                tracing::info!(work_id = %evaluated.work_id, %error, "no automatic award");
                Ok(())
            }
        }
    }
}

impl EventHandler for Evaluations {
    fn handle<'a>(
        &'a self,
        _tx: &'a mut PgConnection,
        event: &'a ReceivedEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(self.apply(event))
    }
}

pub struct TrustTiers;

impl TrustTiers {
    async fn apply(tx: &mut PgConnection, event: &ReceivedEvent) -> Result<(), HandlerError> {
        if event.subject != subjects::TRUST_TIER_CHANGED {
            return Ok(());
        }
        let changed: TrustTierChanged = event.data()?;
        if !["BRONZE", "SILVER", "GOLD", "PLATINUM"].contains(&changed.tier.as_str()) {
            return Err(HandlerError::Permanent(format!("unknown trust tier {}", changed.tier)));
        }
        sqlx::query("UPDATE providers SET trust_tier = $2, updated_at = now() WHERE id = $1")
            .bind(&changed.provider_id)
            .bind(&changed.tier)
            .execute(tx)
            .await?;
        Ok(())
    }
}

impl EventHandler for TrustTiers {
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a ReceivedEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(Self::apply(tx, event))
    }
}
