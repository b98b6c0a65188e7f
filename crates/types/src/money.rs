//! Exact money: integer minor units with checked arithmetic, the platform's half-even
//! rounding, and the decimal string wire format.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::currency::Currency;

/// Why a money operation or parse failed. Each variant has a stable [`code`](Self::code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The amount string is empty or is only a sign.
    #[error("amount is empty")]
    Empty,
    /// A leading `+`; amounts are unsigned or start with `-`.
    #[error("amount must not have a '+' sign")]
    PlusSign,
    /// Whitespace anywhere in the amount.
    #[error("amount must not contain whitespace")]
    Whitespace,
    /// A `.` with no digits before or after it (`".5"`, `"5."`).
    #[error("amount must have digits on both sides of the decimal point")]
    DanglingDecimalPoint,
    /// More than one `.`.
    #[error("amount has more than one decimal point")]
    MultipleDecimalPoints,
    /// More fraction digits than the currency's minor unit holds.
    #[error("{currency} amounts allow at most {} fraction digits", currency.exponent())]
    TooManyFractionDigits {
        /// The currency whose exponent was exceeded.
        currency: Currency,
    },
    /// Scientific notation such as `"1e3"`.
    #[error("amount must not use exponent notation")]
    ExponentNotation,
    /// Any other character that is not an ASCII digit (`"NaN"`, `"inf"`, `"1,000"`).
    #[error("amount must contain only digits, an optional leading '-' and one '.'")]
    InvalidCharacter,
    /// The result does not fit in `i64` minor units.
    #[error("amount is out of range")]
    Overflow,
    /// The two operands are in different currencies.
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch {
        /// Currency of the left operand.
        left: Currency,
        /// Currency of the right operand.
        right: Currency,
    },
    /// Not a supported ISO 4217 code.
    #[error("unknown currency")]
    UnknownCurrency,
}

impl MoneyError {
    /// The stable `UPPER_SNAKE` code for API error bodies.
    ///
    /// Malformed strings share `INVALID_AMOUNT`; the message says which rule was broken.
    pub const fn code(&self) -> &'static str {
        match self {
            MoneyError::Empty
            | MoneyError::PlusSign
            | MoneyError::Whitespace
            | MoneyError::DanglingDecimalPoint
            | MoneyError::MultipleDecimalPoints
            | MoneyError::ExponentNotation
            | MoneyError::InvalidCharacter => "INVALID_AMOUNT",
            MoneyError::TooManyFractionDigits { .. } => "TOO_MANY_FRACTION_DIGITS",
            MoneyError::Overflow => "AMOUNT_OVERFLOW",
            MoneyError::CurrencyMismatch { .. } => "CURRENCY_MISMATCH",
            MoneyError::UnknownCurrency => "UNKNOWN_CURRENCY",
        }
    }
}

/// Divides and rounds to the nearest integer, ties to the even neighbour (banker's rounding).
///
/// This is the one rounding function of the platform. Returns `None` when `denominator` is
/// zero or the quotient overflows (`i128::MIN / -1`).
///
/// ```
/// use aex_types::div_round_half_even;
///
/// assert_eq!(div_round_half_even(15, 10), Some(2));
/// assert_eq!(div_round_half_even(25, 10), Some(2));
/// assert_eq!(div_round_half_even(-25, 10), Some(-2));
/// assert_eq!(div_round_half_even(26, -10), Some(-3));
/// assert_eq!(div_round_half_even(1, 0), None);
/// ```
pub fn div_round_half_even(numerator: i128, denominator: i128) -> Option<i128> {
    // Both are `None` for a zero denominator and for `i128::MIN / -1`.
    let quotient = numerator.checked_div(denominator)?;
    let remainder = numerator.checked_rem(denominator)?;
    if remainder == 0 {
        return Some(quotient);
    }
    // Truncation left |remainder| < |denominator|; compare it with the distance to the next
    // multiple instead of doubling it, which could overflow.
    let below = remainder.unsigned_abs();
    let above = denominator.unsigned_abs() - below;
    let away_from_zero = match below.cmp(&above) {
        Ordering::Less => false,
        Ordering::Greater => true,
        Ordering::Equal => quotient % 2 != 0,
    };
    if !away_from_zero {
        return Some(quotient);
    }
    let step = if (numerator < 0) == (denominator < 0) { 1 } else { -1 };
    quotient.checked_add(step)
}

/// An exact amount of money: a signed count of the currency's minor units.
///
/// There are deliberately no `Add`/`Sub` operators: every operation is checked and says
/// what went wrong. Serialized as `{"minor": 1250, "currency": "USD"}`.
///
/// ```
/// use aex_types::{Currency, Money, MoneyError};
///
/// let price = Money::parse_decimal("12.50", Currency::USD)?;
/// assert_eq!(price.minor(), 1250);
/// let fee = price.apply_bps(1500)?; // 15 %
/// assert_eq!(fee.to_decimal_string(), "1.88");
/// assert_eq!(price.checked_sub(fee)?.to_decimal_string(), "10.62");
/// # Ok::<(), MoneyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// An amount of `minor` units of `currency` (cents for USD).
    pub const fn from_minor(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// An `i128` intermediate result as money, or [`MoneyError::Overflow`] if it does not
    /// fit in `i64`.
    pub fn from_minor_i128(minor: i128, currency: Currency) -> Result<Money, MoneyError> {
        i64::try_from(minor).map(|minor| Money::from_minor(minor, currency)).map_err(|_| MoneyError::Overflow)
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Money {
        Money::from_minor(0, currency)
    }

    /// The amount in minor units.
    pub const fn minor(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub const fn currency(&self) -> Currency {
        self.currency
    }

    /// `true` below zero.
    pub const fn is_negative(&self) -> bool {
        self.minor < 0
    }

    /// `true` at exactly zero.
    pub const fn is_zero(&self) -> bool {
        self.minor == 0
    }

    /// `true` above zero.
    pub const fn is_positive(&self) -> bool {
        self.minor > 0
    }

    /// `self + other`; fails on different currencies or `i64` overflow.
    pub fn checked_add(&self, other: Money) -> Result<Money, MoneyError> {
        let currency = self.same_currency(other)?;
        self.minor.checked_add(other.minor).map(|minor| Money::from_minor(minor, currency)).ok_or(MoneyError::Overflow)
    }

    /// `self - other`; fails on different currencies or `i64` overflow.
    pub fn checked_sub(&self, other: Money) -> Result<Money, MoneyError> {
        let currency = self.same_currency(other)?;
        self.minor.checked_sub(other.minor).map(|minor| Money::from_minor(minor, currency)).ok_or(MoneyError::Overflow)
    }

    /// `-self`; fails only for `i64::MIN` minor units.
    pub fn checked_neg(&self) -> Result<Money, MoneyError> {
        self.minor.checked_neg().map(|minor| Money::from_minor(minor, self.currency)).ok_or(MoneyError::Overflow)
    }

    /// Compares two amounts of the same currency; amounts in different currencies have no order.
    pub fn checked_cmp(&self, other: Money) -> Result<Ordering, MoneyError> {
        self.same_currency(other)?;
        Ok(self.minor.cmp(&other.minor))
    }

    /// `self × bps / 10 000` in basis points, rounded half-even, computed in `i128`.
    ///
    /// ```
    /// use aex_types::{Currency, Money};
    ///
    /// // 2.8 % of $0.25 is 0.7 cents, which rounds to 1 cent.
    /// let fee = Money::from_minor(25, Currency::USD).apply_bps(280).unwrap();
    /// assert_eq!(fee.minor(), 1);
    /// ```
    pub fn apply_bps(&self, bps: u32) -> Result<Money, MoneyError> {
        let product = i128::from(self.minor) * i128::from(bps);
        let rounded = div_round_half_even(product, 10_000).ok_or(MoneyError::Overflow)?;
        Money::from_minor_i128(rounded, self.currency)
    }

    /// Parses an exact decimal amount in major units: `"12.50"`, `"12.5"`, `"12"`, `"-0.50"`.
    ///
    /// At most `currency.exponent()` fraction digits are allowed, so `"12.5"` is an error for
    /// JPY. Signs other than a leading `-`, whitespace, exponents and anything but ASCII
    /// digits and one `.` with digits on both sides are rejected. No floating point is used.
    ///
    /// ```
    /// use aex_types::{Currency, Money, MoneyError};
    ///
    /// assert_eq!(Money::parse_decimal("12.5", Currency::USD)?.minor(), 1250);
    /// assert_eq!(Money::parse_decimal("1250", Currency::JPY)?.minor(), 1250);
    /// assert_eq!(
    ///     Money::parse_decimal("0.005", Currency::USD),
    ///     Err(MoneyError::TooManyFractionDigits { currency: Currency::USD })
    /// );
    /// # Ok::<(), MoneyError>(())
    /// ```
    pub fn parse_decimal(s: &str, currency: Currency) -> Result<Money, MoneyError> {
        if s.is_empty() {
            return Err(MoneyError::Empty);
        }
        if s.chars().any(char::is_whitespace) {
            return Err(MoneyError::Whitespace);
        }
        if looks_like_exponent_notation(s) {
            return Err(MoneyError::ExponentNotation);
        }
        if s.contains('+') {
            return Err(MoneyError::PlusSign);
        }
        let (negative, unsigned) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        if unsigned.is_empty() {
            return Err(MoneyError::Empty);
        }
        let (int_digits, frac_digits) = match unsigned.split_once('.') {
            Some((_, frac)) if frac.contains('.') => {
                return Err(MoneyError::MultipleDecimalPoints);
            }
            Some(("", _)) | Some((_, "")) => return Err(MoneyError::DanglingDecimalPoint),
            Some((int, frac)) => (int, frac),
            None => (unsigned, ""),
        };
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int_digits) || !all_digits(frac_digits) {
            return Err(MoneyError::InvalidCharacter);
        }
        let exponent = usize::from(currency.exponent());
        if frac_digits.len() > exponent {
            return Err(MoneyError::TooManyFractionDigits { currency });
        }

        // Pad the fraction with zeros to the full exponent: "12.5" in USD reads as 1250.
        let padding = std::iter::repeat_n(b'0', exponent - frac_digits.len());
        let magnitude = int_digits
            .bytes()
            .chain(frac_digits.bytes())
            .chain(padding)
            .try_fold(0_i128, |acc, digit| acc.checked_mul(10)?.checked_add(i128::from(digit - b'0')))
            .ok_or(MoneyError::Overflow)?;
        let minor = if negative { -magnitude } else { magnitude };
        Money::from_minor_i128(minor, currency)
    }

    /// Formats in major units with exactly `exponent` fraction digits: `"0.05"`, `"-0.50"`,
    /// `"1250"` for JPY.
    ///
    /// ```
    /// use aex_types::{Currency, Money};
    ///
    /// assert_eq!(Money::from_minor(-5, Currency::USD).to_decimal_string(), "-0.05");
    /// assert_eq!(Money::from_minor(1234, Currency::BHD).to_decimal_string(), "1.234");
    /// ```
    pub fn to_decimal_string(&self) -> String {
        let sign = if self.minor < 0 { "-" } else { "" };
        // unsigned_abs handles i64::MIN, whose magnitude has no positive i64.
        let magnitude = self.minor.unsigned_abs();
        let exponent = usize::from(self.currency.exponent());
        if exponent == 0 {
            return format!("{sign}{magnitude}");
        }
        let per_major = self.currency.minor_per_major().unsigned_abs();
        let (int, frac) = (magnitude / per_major, magnitude % per_major);
        format!("{sign}{int}.{frac:0exponent$}")
    }

    fn same_currency(&self, other: Money) -> Result<Currency, MoneyError> {
        if self.currency == other.currency {
            Ok(self.currency)
        } else {
            Err(MoneyError::CurrencyMismatch { left: self.currency, right: other.currency })
        }
    }
}

/// `12.50 USD`, for logs and messages; the wire format is [`Money::to_decimal_string`].
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

/// `1e3`, `-1.5E-2`: a mantissa of digits and dots, `e`/`E`, an optionally signed exponent.
/// Recognised separately so callers get a precise error rather than "invalid character".
fn looks_like_exponent_notation(s: &str) -> bool {
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    let Some((mantissa, exponent)) = unsigned.split_once(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    mantissa.bytes().any(|b| b.is_ascii_digit())
        && mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !exponent.is_empty()
        && exponent.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponent_notation_is_recognised_only_for_numbers() {
        for s in ["1e3", "1E3", "-1.5e-2", "2.e+10", ".5e1"] {
            assert!(looks_like_exponent_notation(s), "{s}");
        }
        for s in ["e3", "1e", "one", "NaN", "inf", "1e3x", "1ee3", "12.50"] {
            assert!(!looks_like_exponent_notation(s), "{s}");
        }
    }

    #[test]
    fn rounding_handles_the_extremes_of_i128() {
        assert_eq!(div_round_half_even(i128::MIN, -1), None);
        assert_eq!(div_round_half_even(i128::MIN, 1), Some(i128::MIN));
        assert_eq!(div_round_half_even(i128::MAX, 2), Some(i128::MAX / 2 + 1));
        assert_eq!(div_round_half_even(i128::MIN, 2), Some(i128::MIN / 2));
        assert_eq!(div_round_half_even(i128::MIN + 1, i128::MIN), Some(1));
        assert_eq!(div_round_half_even(i128::MIN / 2, i128::MIN), Some(0));
        assert_eq!(div_round_half_even(i128::MAX, i128::MIN), Some(-1));
    }
}
