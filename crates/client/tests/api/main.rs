//! The SDK against the real services: the whole platform runs in this process on real
//! Postgres, Redis and NATS (`aex_e2e::Stack`), and every test drives it only through
//! `aex-client`, as an application would. Each test works with tenants of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod certificates;
mod identity;
mod marketplace;
mod money;
mod retries;

pub use aex_e2e::stack;
