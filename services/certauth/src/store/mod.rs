//! Certauth's SQL, one file per aggregate. Runtime `sqlx::query_as`; every query is exercised
//! by the service's integration tests against real Postgres.
//!
//! Lock order, wherever several are taken in one transaction: certificate request row →
//! certificate row → `ca_keys` (table lock for rotation, or the active row `FOR SHARE` to sign)
//! → `crls` (table lock to number the next CRL) → the per-provider reputation advisory lock
//! (`reputation::lock_provider`), always last: consumers take only that one.

pub mod ca_keys;
pub mod certificates;
pub mod crls;
pub mod outcomes;
pub mod providers;
pub mod reputation;
pub mod requests;
