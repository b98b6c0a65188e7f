//! The AEX story end to end, through the gateway only, with the five real services on real
//! Postgres, Redis and NATS (see `aex_e2e::Stack`). Each test plays its own tenants, so the
//! stories run side by side; each prints how long it took.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_arithmetic)]

mod duplicates;
mod hostile;
mod isolation;
mod market;
mod paths;
mod schema;
mod story;
