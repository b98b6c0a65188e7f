//! What the evaluator does on other services' events: a closed bid window is evaluated once.
//! The consumer's inbox row commits in the same transaction as the evaluation and its outbox
//! event, so a redelivered close event has no second effect.

use crate::domain::scoring::Strategy;
use crate::evaluation::{EvaluationError, Evaluator, WorkSpec};
use aex_api::events::{self as subjects, WorkBidWindowClosed};
use aex_common::events::consumer::{ConsumerConfig, EventHandler, HandlerError, ReceivedEvent};
use futures::future::BoxFuture;
use sqlx::PgConnection;

/// The durable consumer of closed bid windows.
pub fn window_closed_consumer() -> ConsumerConfig {
    ConsumerConfig::new("bid-evaluator-window-closed", "WORK", subjects::WORK_BID_WINDOW_CLOSED)
}

pub struct WindowClosed {
    pub evaluator: Evaluator,
}

impl WindowClosed {
    async fn apply(&self, tx: &mut PgConnection, event: &ReceivedEvent) -> Result<(), HandlerError> {
        if event.subject != subjects::WORK_BID_WINDOW_CLOSED {
            return Ok(());
        }
        let closed: WorkBidWindowClosed = event.data()?;
        let strategy = if closed.bid_strategy.is_empty() {
            Strategy::Balanced
        } else {
            Strategy::parse(&closed.bid_strategy)
                .ok_or_else(|| HandlerError::Permanent(format!("unknown bid strategy {}", closed.bid_strategy)))?
        };
        let work = WorkSpec {
            work_id: closed.work_id,
            consumer_tenant_id: closed.consumer_tenant_id,
            strategy,
            max_price_minor: closed.max_price_minor,
            constraints: closed.constraints,
            auto_award: closed.auto_award,
        };
        match self.evaluator.evaluate(tx, &work, Some(&event.envelope.event_id)).await {
            Ok(Some(view)) => {
                tracing::info!(work_id = %view.work_id, evaluation_id = %view.evaluation_id,
                    valid_bids = view.valid_bids, degraded = ?view.degraded, "bids evaluated");
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(EvaluationError::Unavailable(message)) => Err(HandlerError::Retry(message)),
            Err(error @ (EvaluationError::WorkNotFound | EvaluationError::Invalid(_))) => {
                Err(HandlerError::Permanent(error.to_string()))
            }
        }
    }
}

impl EventHandler for WindowClosed {
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a ReceivedEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(self.apply(tx, event))
    }
}
