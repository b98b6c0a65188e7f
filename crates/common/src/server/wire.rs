//! Reading the wire formats every service shares: money amounts (exact decimal strings, never a
//! float), currency codes and bounded pagination. Failures are answers with stable codes.

use super::error::ApiError;
use aex_types::{Currency, Money};
use serde_json::Value;

/// Reads a wire amount: a decimal string in major units (`"12.50"`). A JSON number — integer
/// or not — is refused with one message: money never travels as a number, which a client's
/// JSON library may have rounded through a double. With `allow_zero`, zero passes; negative
/// amounts never do.
///
/// ```
/// use aex_common::server::wire;
/// use aex_types::Currency;
/// let price = wire::amount(&serde_json::json!("12.50"), Currency::USD, "price", false).unwrap();
/// assert_eq!(price.minor(), 1250);
/// assert!(wire::amount(&serde_json::json!(12.5), Currency::USD, "price", false).is_err());
/// assert!(wire::amount(&serde_json::json!(12), Currency::USD, "price", false).is_err());
/// ```
pub fn amount(value: &Value, currency: Currency, field: &str, allow_zero: bool) -> Result<Money, ApiError> {
    let invalid = |code: &'static str, message: String| ApiError::bad_request(code, message);
    let money = match value {
        Value::String(text) => {
            Money::parse_decimal(text, currency).map_err(|e| invalid(e.code(), format!("{field}: {e}")))?
        }
        Value::Number(_) => {
            return Err(invalid(
                "INVALID_AMOUNT",
                format!("{field} must be a decimal string such as \"12.50\", not a JSON number"),
            ));
        }
        Value::Null => return Err(invalid("VALIDATION_ERROR", format!("{field} is required"))),
        _ => return Err(invalid("VALIDATION_ERROR", format!("{field} must be a decimal string"))),
    };
    let acceptable = if allow_zero { money.minor() >= 0 } else { money.is_positive() };
    if !acceptable {
        let rule = if allow_zero { "must not be negative" } else { "must be positive" };
        return Err(invalid("INVALID_AMOUNT", format!("{field} {rule}")));
    }
    Ok(money)
}

/// Reads an optional ISO currency code, defaulting to USD.
pub fn currency(value: Option<&str>) -> Result<Currency, ApiError> {
    match value {
        None => Ok(Currency::DEFAULT),
        Some(code) => {
            code.parse().map_err(|_| ApiError::bad_request("UNKNOWN_CURRENCY", format!("unknown currency {code:?}")))
        }
    }
}

/// Bounded pagination: `limit` 1..=200 (default 50), `offset` ≥ 0.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
pub struct Page {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl Page {
    pub fn bounds(&self) -> Result<(i64, i64), ApiError> {
        let limit = self.limit.unwrap_or(50);
        let offset = self.offset.unwrap_or(0);
        if !(1..=200).contains(&limit) {
            return Err(ApiError::bad_request("VALIDATION_ERROR", "limit must be between 1 and 200"));
        }
        if offset < 0 {
            return Err(ApiError::bad_request("VALIDATION_ERROR", "offset must not be negative"));
        }
        Ok((limit, offset))
    }
}
