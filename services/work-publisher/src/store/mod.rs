//! Work-publisher's SQL, one file per aggregate. Runtime `sqlx::query_as`; every query is
//! exercised by the service's integration tests against real Postgres.

pub mod bids;
pub mod providers;
pub mod subscriptions;
pub mod work;
