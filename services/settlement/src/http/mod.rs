//! Settlement's HTTP API, one file per resource; handlers extract, authorize and delegate.

pub mod accounts;
pub mod audit;
pub mod balance;
pub mod escrow;
pub mod fees;
pub mod funds;
pub mod market;
pub mod receipts;
pub mod transfers;
pub mod usage;

use crate::error::{Error, Result};
use aex_types::{Currency, Money};
use serde_json::Value;

/// Reads a wire amount: a decimal string in major units (`"12.50"`) or a JSON integer;
/// a JSON number with a fraction or exponent is refused, never rounded through a double.
pub fn parse_amount(value: &Value, currency: Currency, field: &'static str) -> Result<Money> {
    let money = match value {
        Value::String(text) => Money::parse_decimal(text, currency)?,
        Value::Number(number) if number.is_i64() || number.is_u64() => {
            Money::parse_decimal(&number.to_string(), currency)?
        }
        Value::Number(_) => {
            return Err(Error::InvalidAmount {
                code: "INVALID_AMOUNT",
                message: format!("{field} must be a decimal string such as \"12.50\", not a float").into(),
            });
        }
        Value::Null => return Err(Error::validation(format!("{field} is required"))),
        _ => return Err(Error::validation(format!("{field} must be a decimal string"))),
    };
    if !money.is_positive() {
        return Err(Error::InvalidAmount {
            code: "INVALID_AMOUNT",
            message: format!("{field} must be positive").into(),
        });
    }
    Ok(money)
}

/// Reads an optional currency code, defaulting to USD.
pub fn parse_currency(value: Option<&str>) -> Result<Currency> {
    match value {
        None => Ok(Currency::DEFAULT),
        Some(code) => code.parse().map_err(|_| Error::UnknownCurrency(code.to_string())),
    }
}

/// Bounded pagination: `limit` 1..=200 (default 50), `offset` ≥ 0.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct Page {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl Page {
    pub fn bounds(&self) -> Result<(i64, i64)> {
        let limit = self.limit.unwrap_or(50);
        let offset = self.offset.unwrap_or(0);
        if !(1..=200).contains(&limit) {
            return Err(Error::validation("limit must be between 1 and 200"));
        }
        if offset < 0 {
            return Err(Error::validation("offset must not be negative"));
        }
        Ok((limit, offset))
    }
}
