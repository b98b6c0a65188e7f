//! The ISO 4217 currencies AEX settles in, with their minor-unit exponents.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::money::MoneyError;

/// A supported ISO 4217 currency.
///
/// On the wire and in text it is its upper-case code (`"USD"`); parsing is exact, so
/// `"usd"` or `" USD"` are unknown currencies.
///
/// ```
/// use aex_types::Currency;
///
/// let c: Currency = "JPY".parse().unwrap();
/// assert_eq!(c.exponent(), 0);
/// assert_eq!(Currency::BHD.minor_per_major(), 1000);
/// assert_eq!(Currency::DEFAULT.to_string(), "USD");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(clippy::upper_case_acronyms)] // ISO codes are how everyone reads currencies.
pub enum Currency {
    /// US dollar, 2 decimals.
    USD,
    /// Euro, 2 decimals.
    EUR,
    /// Pound sterling, 2 decimals.
    GBP,
    /// Swiss franc, 2 decimals.
    CHF,
    /// Canadian dollar, 2 decimals.
    CAD,
    /// Australian dollar, 2 decimals.
    AUD,
    /// Japanese yen, no minor unit.
    JPY,
    /// South Korean won, no minor unit.
    KRW,
    /// Bahraini dinar, 3 decimals.
    BHD,
    /// Kuwaiti dinar, 3 decimals.
    KWD,
}

impl Currency {
    /// The platform's default currency.
    pub const DEFAULT: Currency = Currency::USD;

    /// Every supported currency, in declaration order.
    pub const ALL: [Currency; 10] = [
        Currency::USD,
        Currency::EUR,
        Currency::GBP,
        Currency::CHF,
        Currency::CAD,
        Currency::AUD,
        Currency::JPY,
        Currency::KRW,
        Currency::BHD,
        Currency::KWD,
    ];

    /// The ISO 4217 alphabetic code, e.g. `"USD"`.
    pub const fn code(self) -> &'static str {
        match self {
            Currency::USD => "USD",
            Currency::EUR => "EUR",
            Currency::GBP => "GBP",
            Currency::CHF => "CHF",
            Currency::CAD => "CAD",
            Currency::AUD => "AUD",
            Currency::JPY => "JPY",
            Currency::KRW => "KRW",
            Currency::BHD => "BHD",
            Currency::KWD => "KWD",
        }
    }

    /// Number of decimal digits in the minor unit (2 for USD: cents).
    pub const fn exponent(self) -> u8 {
        match self {
            Currency::USD | Currency::EUR | Currency::GBP | Currency::CHF | Currency::CAD | Currency::AUD => 2,
            Currency::JPY | Currency::KRW => 0,
            Currency::BHD | Currency::KWD => 3,
        }
    }

    /// Minor units in one major unit: `10^exponent` (100 for USD, 1 for JPY).
    pub const fn minor_per_major(self) -> i64 {
        10_i64.pow(self.exponent() as u32)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    /// Parses an exact upper-case ISO code; anything else is [`MoneyError::UnknownCurrency`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::ALL.into_iter().find(|c| c.code() == s).ok_or(MoneyError::UnknownCurrency)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CodeVisitor;

        impl Visitor<'_> for CodeVisitor {
            type Value = Currency;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an upper-case ISO 4217 currency code such as \"USD\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Currency, E> {
                v.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_str(CodeVisitor)
    }
}
