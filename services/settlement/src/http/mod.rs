//! Settlement's HTTP API, one file per resource; handlers extract, authorize and delegate.

pub mod accounts;
pub mod audit;
pub mod balance;
pub mod escrow;
pub mod fees;
pub mod funds;
pub mod ledger;
pub mod market;
pub mod receipts;
pub mod transfers;
pub mod usage;

use crate::error::Result;
use aex_common::server::wire;
use aex_types::{Currency, Money};
use serde_json::Value;

pub use aex_common::server::wire::Page;

/// A positive wire amount (see [`aex_common::server::wire::amount`]).
pub fn parse_amount(value: &Value, currency: Currency, field: &'static str) -> Result<Money> {
    Ok(wire::amount(value, currency, field, false)?)
}

/// An optional currency code, defaulting to USD.
pub fn parse_currency(value: Option<&str>) -> Result<Currency> {
    Ok(wire::currency(value)?)
}
