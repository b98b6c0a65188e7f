//! Money: the decimal wire format, checked arithmetic, fees and serde.

use std::cmp::Ordering;

use aex_types::{Currency, Money, MoneyError};
use proptest::prelude::*;
use serde_json::json;

use crate::rounding::reference_div_round_half_even;

const USD: Currency = Currency::USD;
const JPY: Currency = Currency::JPY;
const KRW: Currency = Currency::KRW;
const BHD: Currency = Currency::BHD;
const KWD: Currency = Currency::KWD;

fn any_currency() -> impl Strategy<Value = Currency> {
    proptest::sample::select(Currency::ALL.to_vec())
}

fn digits(range: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::char::range('0', '9'), range).prop_map(|chars| chars.into_iter().collect())
}

#[test]
fn parses_valid_decimals() {
    let table = [
        ("12.50", USD, 1250),
        ("12.5", USD, 1250),
        ("12", USD, 1200),
        ("0.10", USD, 10),
        ("0.05", USD, 5),
        ("-0.50", USD, -50),
        ("-0.05", USD, -5),
        ("0", USD, 0),
        ("-0", USD, 0),
        ("-0.00", USD, 0),
        ("007.50", USD, 750),
        ("1250", JPY, 1250),
        ("-7", KRW, -7),
        ("1.234", BHD, 1234),
        ("1.2", BHD, 1200),
        ("0.001", KWD, 1),
        ("92233720368547758.07", USD, i64::MAX),
        ("-92233720368547758.08", USD, i64::MIN),
        ("9223372036854775807", JPY, i64::MAX),
        ("-9223372036854775808", JPY, i64::MIN),
        ("9223372036854775.807", BHD, i64::MAX),
        ("-9223372036854775.808", KWD, i64::MIN),
    ];
    for (text, currency, minor) in table {
        assert_eq!(Money::parse_decimal(text, currency), Ok(Money::from_minor(minor, currency)), "{text} {currency}");
    }
}

#[test]
fn rejects_malformed_decimals_with_the_right_error() {
    use MoneyError::*;
    let too_many = |currency| TooManyFractionDigits { currency };
    let table = [
        ("", USD, Empty),
        ("-", USD, Empty),
        ("+1.00", USD, PlusSign),
        ("+0", JPY, PlusSign),
        ("1+1", USD, PlusSign),
        ("-+1", USD, PlusSign),
        (" 1.00", USD, Whitespace),
        ("1.00 ", USD, Whitespace),
        ("1 000", USD, Whitespace),
        ("1.0\n", USD, Whitespace),
        ("\t1", USD, Whitespace),
        ("- 1", USD, Whitespace),
        ("1\u{a0}000", USD, Whitespace),
        (".50", USD, DanglingDecimalPoint),
        ("-.50", USD, DanglingDecimalPoint),
        ("12.", USD, DanglingDecimalPoint),
        ("12.", JPY, DanglingDecimalPoint),
        (".", USD, DanglingDecimalPoint),
        ("1.2.3", USD, MultipleDecimalPoints),
        ("1..2", USD, MultipleDecimalPoints),
        ("..", USD, MultipleDecimalPoints),
        ("12.505", USD, too_many(USD)),
        ("0.001", USD, too_many(USD)),
        ("0.000", USD, too_many(USD)),
        ("12.5", JPY, too_many(JPY)),
        ("12.0", JPY, too_many(JPY)),
        ("1.2345", BHD, too_many(BHD)),
        ("1e3", USD, ExponentNotation),
        ("1E3", USD, ExponentNotation),
        ("1.5e-2", USD, ExponentNotation),
        ("-1e3", USD, ExponentNotation),
        ("1e+3", USD, ExponentNotation),
        ("NaN", USD, InvalidCharacter),
        ("nan", USD, InvalidCharacter),
        ("inf", USD, InvalidCharacter),
        ("-inf", USD, InvalidCharacter),
        ("Infinity", USD, InvalidCharacter),
        ("abc", USD, InvalidCharacter),
        ("1e", USD, InvalidCharacter),
        ("1,000.00", USD, InvalidCharacter),
        ("12.5o", USD, InvalidCharacter),
        ("--1", USD, InvalidCharacter),
        ("1-", USD, InvalidCharacter),
        ("0x10", USD, InvalidCharacter),
        ("$1", USD, InvalidCharacter),
        ("\u{661}\u{662}", USD, InvalidCharacter), // Arabic-Indic digits
        ("92233720368547758.08", USD, Overflow),
        ("-92233720368547758.09", USD, Overflow),
        ("9223372036854775808", JPY, Overflow),
        ("9223372036854775.808", BHD, Overflow),
        ("99999999999999999999999999999999999999999999", USD, Overflow),
    ];
    for (text, currency, expected) in table {
        assert_eq!(Money::parse_decimal(text, currency), Err(expected), "{text:?} {currency}");
    }
}

#[test]
fn formats_exactly_exponent_fraction_digits() {
    let table = [
        (1250, USD, "12.50"),
        (5, USD, "0.05"),
        (-50, USD, "-0.50"),
        (-5, USD, "-0.05"),
        (0, USD, "0.00"),
        (1250, JPY, "1250"),
        (-1, KRW, "-1"),
        (0, JPY, "0"),
        (1234, BHD, "1.234"),
        (1, KWD, "0.001"),
        (i64::MAX, USD, "92233720368547758.07"),
        (i64::MIN, USD, "-92233720368547758.08"),
        (i64::MIN, JPY, "-9223372036854775808"),
        (i64::MIN, BHD, "-9223372036854775.808"),
    ];
    for (minor, currency, text) in table {
        let money = Money::from_minor(minor, currency);
        assert_eq!(money.to_decimal_string(), text);
        assert_eq!(money.to_string(), format!("{text} {currency}"));
    }
}

#[test]
fn errors_have_stable_codes_and_messages() {
    use MoneyError::*;
    let table = [
        (Empty, "INVALID_AMOUNT"),
        (PlusSign, "INVALID_AMOUNT"),
        (Whitespace, "INVALID_AMOUNT"),
        (DanglingDecimalPoint, "INVALID_AMOUNT"),
        (MultipleDecimalPoints, "INVALID_AMOUNT"),
        (ExponentNotation, "INVALID_AMOUNT"),
        (InvalidCharacter, "INVALID_AMOUNT"),
        (TooManyFractionDigits { currency: JPY }, "TOO_MANY_FRACTION_DIGITS"),
        (Overflow, "AMOUNT_OVERFLOW"),
        (CurrencyMismatch { left: USD, right: JPY }, "CURRENCY_MISMATCH"),
        (UnknownCurrency, "UNKNOWN_CURRENCY"),
    ];
    for (err, code) in table {
        assert_eq!(err.code(), code, "{err:?}");
    }
    assert_eq!(TooManyFractionDigits { currency: USD }.to_string(), "USD amounts allow at most 2 fraction digits");
    assert_eq!(CurrencyMismatch { left: USD, right: JPY }.to_string(), "currency mismatch: USD and JPY");
}

#[test]
fn constructors_and_predicates() {
    let money = Money::from_minor(-3, BHD);
    assert_eq!((money.minor(), money.currency()), (-3, BHD));
    assert!(money.is_negative() && !money.is_zero() && !money.is_positive());
    let zero = Money::zero(KWD);
    assert_eq!((zero.minor(), zero.currency()), (0, KWD));
    assert!(zero.is_zero() && !zero.is_negative() && !zero.is_positive());
    let one = Money::from_minor(1, USD);
    assert!(one.is_positive() && !one.is_zero() && !one.is_negative());

    assert_eq!(Money::from_minor_i128(i128::from(i64::MAX), USD), Ok(Money::from_minor(i64::MAX, USD)));
    assert_eq!(Money::from_minor_i128(i128::from(i64::MIN), USD), Ok(Money::from_minor(i64::MIN, USD)));
    assert_eq!(Money::from_minor_i128(i128::from(i64::MAX) + 1, USD), Err(MoneyError::Overflow));
    assert_eq!(Money::from_minor_i128(i128::from(i64::MIN) - 1, USD), Err(MoneyError::Overflow));
}

#[test]
fn checked_ops_reject_mixed_currencies_and_overflow() {
    let usd = Money::from_minor(100, USD);
    let eur = Money::from_minor(100, Currency::EUR);
    let mismatch = Err(MoneyError::CurrencyMismatch { left: USD, right: Currency::EUR });
    assert_eq!(usd.checked_add(eur), mismatch);
    assert_eq!(usd.checked_sub(eur), mismatch);
    assert_eq!(usd.checked_cmp(eur), mismatch.map(|_: Money| Ordering::Equal));

    let max = Money::from_minor(i64::MAX, USD);
    let min = Money::from_minor(i64::MIN, USD);
    let one = Money::from_minor(1, USD);
    assert_eq!(max.checked_add(one), Err(MoneyError::Overflow));
    assert_eq!(min.checked_sub(one), Err(MoneyError::Overflow));
    assert_eq!(max.checked_sub(min), Err(MoneyError::Overflow));
    assert_eq!(min.checked_neg(), Err(MoneyError::Overflow));
    assert_eq!(max.checked_neg(), Ok(Money::from_minor(-i64::MAX, USD)));
    assert_eq!(usd.checked_add(one), Ok(Money::from_minor(101, USD)));
    assert_eq!(usd.checked_sub(one), Ok(Money::from_minor(99, USD)));
    assert_eq!(usd.checked_cmp(one), Ok(Ordering::Greater));
    assert_eq!(min.checked_cmp(max), Ok(Ordering::Less));
}

#[test]
fn apply_bps_rounds_half_even() {
    let table = [
        (1250, 1500, 188),            // 187.5 → 188 (187 is odd)
        (1150, 1500, 172),            // 172.5 → 172 (172 is even)
        (-1250, 1500, -188),          // symmetric for negatives
        (25, 280, 1),                 // 0.7 → 1
        (5, 1000, 0),                 // 0.5 → 0
        (15, 1000, 2),                // 1.5 → 2
        (1, 4999, 0),                 // 0.4999 → 0
        (1, 5001, 1),                 // 0.5001 → 1
        (10_000, 0, 0),               // zero rate
        (i64::MAX, 10_000, i64::MAX), // 100 %
        (i64::MIN, 10_000, i64::MIN),
    ];
    for (minor, bps, expected) in table {
        assert_eq!(
            Money::from_minor(minor, JPY).apply_bps(bps),
            Ok(Money::from_minor(expected, JPY)),
            "{minor} × {bps} bps"
        );
    }
    assert_eq!(Money::from_minor(i64::MAX, USD).apply_bps(10_001), Err(MoneyError::Overflow));
    assert_eq!(Money::from_minor(i64::MIN, USD).apply_bps(u32::MAX), Err(MoneyError::Overflow));
}

#[test]
fn serde_is_minor_and_currency_code() {
    let money = Money::from_minor(1250, USD);
    assert_eq!(serde_json::to_value(money).unwrap(), json!({"minor": 1250, "currency": "USD"}));
    let back: Money = serde_json::from_str(r#"{"minor":-5,"currency":"BHD"}"#).unwrap();
    assert_eq!(back, Money::from_minor(-5, BHD));
    let extreme = Money::from_minor(i64::MIN, KWD);
    let text = serde_json::to_string(&extreme).unwrap();
    assert_eq!(serde_json::from_str::<Money>(&text).unwrap(), extreme);

    for bad in [
        r#"{"minor":1,"currency":"usd"}"#,
        r#"{"minor":1.5,"currency":"USD"}"#,
        r#"{"minor":"1","currency":"USD"}"#,
        r#"{"minor":9223372036854775808,"currency":"USD"}"#,
        r#"{"currency":"USD"}"#,
        r#"{"minor":1}"#,
    ] {
        assert!(serde_json::from_str::<Money>(bad).is_err(), "{bad}");
    }
}

proptest! {
    #[test]
    fn format_then_parse_is_identity(minor in any::<i64>(), currency in any_currency()) {
        let money = Money::from_minor(minor, currency);
        let text = money.to_decimal_string();
        prop_assert_eq!(Money::parse_decimal(&text, currency), Ok(money));
        // Exactly `exponent` fraction digits, and a '.' only when there are some.
        let fraction = text.split_once('.').map_or(0, |(_, frac)| frac.len());
        prop_assert_eq!(fraction, usize::from(currency.exponent()));
    }

    #[test]
    fn parse_gives_the_exact_integer(
        (currency, negative, int_part, frac_part) in any_currency().prop_flat_map(|c| {
            (Just(c), any::<bool>(), digits(1..=20), digits(0..=usize::from(c.exponent())))
        })
    ) {
        let mut text = String::new();
        if negative {
            text.push('-');
        }
        text.push_str(&int_part);
        if !frac_part.is_empty() {
            text.push('.');
            text.push_str(&frac_part);
        }

        // Independently: the integer part scaled by 10^exponent plus the right-padded fraction.
        let exponent = usize::from(currency.exponent());
        let padded = format!("{frac_part:0<exponent$}");
        let scale = 10_i128.pow(u32::from(currency.exponent()));
        let frac_value = if padded.is_empty() { 0 } else { padded.parse::<i128>().unwrap() };
        let magnitude = int_part.parse::<i128>().unwrap() * scale + frac_value;
        let expected = if negative { -magnitude } else { magnitude };

        let parsed = Money::parse_decimal(&text, currency);
        match i64::try_from(expected) {
            Ok(minor) => prop_assert_eq!(parsed, Ok(Money::from_minor(minor, currency))),
            Err(_) => prop_assert_eq!(parsed, Err(MoneyError::Overflow)),
        }
    }

    #[test]
    fn one_fraction_digit_too_many_is_rejected(
        (currency, negative, int_part, frac_part) in any_currency().prop_flat_map(|c| {
            let len = usize::from(c.exponent()) + 1;
            (Just(c), any::<bool>(), digits(1..=15), digits(len..=len))
        })
    ) {
        let sign = if negative { "-" } else { "" };
        let text = format!("{sign}{int_part}.{frac_part}");
        prop_assert_eq!(
            Money::parse_decimal(&text, currency),
            Err(MoneyError::TooManyFractionDigits { currency })
        );
    }

    #[test]
    fn checked_add_and_sub_agree_with_i128(a in any::<i64>(), b in any::<i64>(), currency in any_currency()) {
        let (x, y) = (Money::from_minor(a, currency), Money::from_minor(b, currency));
        let expect = |wide: i128| match i64::try_from(wide) {
            Ok(minor) => Ok(Money::from_minor(minor, currency)),
            Err(_) => Err(MoneyError::Overflow),
        };
        prop_assert_eq!(x.checked_add(y), expect(i128::from(a) + i128::from(b)));
        prop_assert_eq!(x.checked_sub(y), expect(i128::from(a) - i128::from(b)));
        prop_assert_eq!(x.checked_neg(), expect(-i128::from(a)));
    }

    #[test]
    fn different_currencies_never_combine(a in any::<i64>(), b in any::<i64>(), left in any_currency(), right in any_currency()) {
        prop_assume!(left != right);
        let (x, y) = (Money::from_minor(a, left), Money::from_minor(b, right));
        let mismatch = MoneyError::CurrencyMismatch { left, right };
        prop_assert_eq!(x.checked_add(y), Err(mismatch));
        prop_assert_eq!(x.checked_sub(y), Err(mismatch));
        prop_assert_eq!(x.checked_cmp(y), Err(mismatch));
    }

    #[test]
    fn apply_bps_matches_the_reference(minor in any::<i64>(), bps in prop_oneof![0_u32..=10_000, any::<u32>()]) {
        let expected = reference_div_round_half_even(i128::from(minor) * i128::from(bps), 10_000);
        let actual = Money::from_minor(minor, USD).apply_bps(bps);
        match i64::try_from(expected) {
            Ok(fee) => prop_assert_eq!(actual, Ok(Money::from_minor(fee, USD))),
            Err(_) => prop_assert_eq!(actual, Err(MoneyError::Overflow)),
        }
    }
}
