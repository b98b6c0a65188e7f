//! What settlement does on other services' events: a completed contract is paid out, a
//! failed one released. Both are idempotent by contract id (the ledger answers `Exists`), so a
//! redelivered or replayed event has no second effect.

use crate::error::Error;
use crate::ledger::Ledger;
use crate::service::escrow::{self, Resolution};
use aex_api::events::{self as subjects, ContractOutcome};
use aex_common::events::consumer::{ConsumerConfig, EventHandler, HandlerError, ReceivedEvent};
use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};

/// The durable consumer of contract events.
pub fn contract_consumer() -> ConsumerConfig {
    ConsumerConfig::new("settlement-contracts", "CONTRACT", "contract.>")
}

pub struct ContractEvents {
    pub pool: PgPool,
    pub ledger: Ledger,
}

impl ContractEvents {
    async fn apply(&self, event: &ReceivedEvent) -> Result<(), HandlerError> {
        let resolution = match event.subject.as_str() {
            subjects::CONTRACT_COMPLETED => {
                let outcome: ContractOutcome = event.data()?;
                if outcome.success {
                    escrow::settle(&self.pool, &self.ledger, &outcome.contract_id).await
                } else {
                    escrow::release(&self.pool, &self.ledger, &outcome.contract_id, outcome.reason).await
                }
            }
            subjects::CONTRACT_FAILED => {
                let outcome: ContractOutcome = event.data()?;
                escrow::release(&self.pool, &self.ledger, &outcome.contract_id, outcome.reason).await
            }
            // Awards, progress and the rest are not settlement's concern.
            _ => return Ok(()),
        };
        match resolution {
            Ok(Resolution::Applied(_) | Resolution::AlreadyDone(_)) => Ok(()),
            Ok(Resolution::Conflict(row)) => {
                tracing::warn!(contract_id = %row.contract_id, status = row.status.as_str(), subject = %event.subject,
                    "escrow already resolved the other way; event ignored");
                Ok(())
            }
            Err(error @ (Error::Database(_) | Error::Unavailable)) => Err(HandlerError::Retry(error.to_string())),
            Err(error) => Err(HandlerError::Permanent(error.to_string())),
        }
    }
}

impl EventHandler for ContractEvents {
    fn handle<'a>(
        &'a self,
        _tx: &'a mut PgConnection,
        event: &'a ReceivedEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        // The ledger commits in its own batch; the consumer's inbox row commits after it, and a
        // redelivery in between finds the transfers already there.
        Box::pin(self.apply(event))
    }
}
