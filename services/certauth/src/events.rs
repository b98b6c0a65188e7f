//! What certauth does on other services' events: a contract outcome (`contract.completed`,
//! `contract.failed`) or a settlement (`settlement.completed`) is recorded as evidence, once
//! per contract, and the provider's reputation recomputed — all in the consumer's transaction,
//! with its inbox row, so a redelivery has no second effect.

use crate::error::Error;
use crate::reputation::recompute;
use crate::store::outcomes::{self, NewOutcome, NewSettlement};
use aex_api::events::{self as subjects, ContractOutcome, SettlementCompleted};
use aex_common::events::consumer::{ConsumerConfig, EventHandler, HandlerError, ReceivedEvent};
use sqlx::PgConnection;
use std::future::Future;
use std::pin::Pin;
use time::OffsetDateTime;

/// The durable consumer of contract outcomes.
pub fn contract_consumer() -> ConsumerConfig {
    ConsumerConfig::new("certauth-contracts", "CONTRACT", "contract.>")
}

/// The durable consumer of settlements.
pub fn settlement_consumer() -> ConsumerConfig {
    ConsumerConfig::new("certauth-settlements", "SETTLEMENT", subjects::SETTLEMENT_COMPLETED)
}

type Handled<'a> = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'a>>;

fn handler_error(error: Error) -> HandlerError {
    match error {
        Error::Database(_) | Error::Events(_) => HandlerError::Retry(error.to_string()),
        other => HandlerError::Permanent(other.to_string()),
    }
}

/// Identifiers in events end up in snapshots and responses: refuse anything oversized.
fn check_ids(ids: &[&str]) -> Result<(), HandlerError> {
    if ids.iter().any(|id| id.is_empty() || id.len() > 128) {
        return Err(HandlerError::Permanent("an identifier is empty or longer than 128 characters".into()));
    }
    Ok(())
}

/// Contract outcomes: the first outcome of a contract counts; later ones are ignored.
pub struct ContractOutcomes;

impl ContractOutcomes {
    async fn apply(conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), HandlerError> {
        let failed = match event.subject.as_str() {
            subjects::CONTRACT_COMPLETED => false,
            subjects::CONTRACT_FAILED => true,
            // Awards and progress say nothing about reputation.
            _ => return Ok(()),
        };
        let outcome: ContractOutcome = event.data()?;
        check_ids(&[
            &outcome.contract_id,
            &outcome.provider_id,
            &outcome.provider_tenant_id,
            &outcome.consumer_tenant_id,
        ])?;
        let new = NewOutcome {
            contract_id: &outcome.contract_id,
            provider_id: &outcome.provider_id,
            provider_tenant_id: &outcome.provider_tenant_id,
            consumer_tenant_id: &outcome.consumer_tenant_id,
            // A completion reported unsuccessful is a failure, as settlement treats it.
            success: outcome.success && !failed,
            occurred_at: OffsetDateTime::from(event.envelope.occurred_at),
        };
        if outcomes::record_outcome(conn, &new).await? {
            recompute(conn, &outcome.provider_id).await.map_err(handler_error)?;
        }
        Ok(())
    }
}

impl EventHandler for ContractOutcomes {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, event: &'a ReceivedEvent) -> Handled<'a> {
        Box::pin(Self::apply(tx, event))
    }
}

/// Settlements: the settled price of a contract, recorded once.
pub struct Settlements;

impl Settlements {
    async fn apply(conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), HandlerError> {
        if event.subject != subjects::SETTLEMENT_COMPLETED {
            return Ok(());
        }
        let settled: SettlementCompleted = event.data()?;
        check_ids(&[
            &settled.contract_id,
            &settled.provider_id,
            &settled.provider_tenant_id,
            &settled.consumer_tenant_id,
        ])?;
        if settled.price_minor < 0 || settled.currency.is_empty() || settled.currency.len() > 16 {
            return Err(HandlerError::Permanent("settlement with a negative price or no currency".into()));
        }
        let new = NewSettlement {
            contract_id: &settled.contract_id,
            provider_id: &settled.provider_id,
            provider_tenant_id: &settled.provider_tenant_id,
            consumer_tenant_id: &settled.consumer_tenant_id,
            price_minor: settled.price_minor,
            currency: &settled.currency,
            settled_at: OffsetDateTime::from(event.envelope.occurred_at),
        };
        if outcomes::record_settlement(conn, &new).await? {
            recompute(conn, &settled.provider_id).await.map_err(handler_error)?;
        }
        Ok(())
    }
}

impl EventHandler for Settlements {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, event: &'a ReceivedEvent) -> Handled<'a> {
        Box::pin(Self::apply(tx, event))
    }
}
