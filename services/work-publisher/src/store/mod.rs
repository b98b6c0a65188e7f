//! Work-publisher's SQL, one file per aggregate. Runtime `sqlx::query_as`; every query is
//! exercised by the service's integration tests against real Postgres.

pub mod agent_cards;
pub mod bids;
pub mod contracts;
pub mod evaluations;
pub mod providers;
pub mod subscriptions;
pub mod webhooks;
pub mod work;
