//! Money on the wire: decimal strings in major units (`"12.50"`), never floats; the currency
//! travels in its own field.

use aex_types::Money;
use serde::Serializer;

/// `serialize_with` for a [`Money`] field: its decimal string.
pub(crate) fn amount<S: Serializer>(money: &Money, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&money.to_decimal_string())
}

/// `serialize_with` for an optional [`Money`] field (pair it with `skip_serializing_if`).
pub(crate) fn optional_amount<S: Serializer>(money: &Option<Money>, serializer: S) -> Result<S::Ok, S::Error> {
    match money {
        Some(money) => amount(money, serializer),
        None => serializer.serialize_none(),
    }
}
