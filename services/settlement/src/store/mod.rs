//! Settlement's SQL, one file per aggregate. Runtime `sqlx::query_as`; every query is
//! exercised by the service's integration tests against real Postgres.

pub mod accounts;
pub mod audit;
pub mod journal;
pub mod receipts;
pub mod settlements;
pub mod transfers;
