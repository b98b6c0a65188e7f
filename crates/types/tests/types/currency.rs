//! Currency codes, exponents, parsing and serde.

use std::collections::HashSet;

use aex_types::{Currency, MoneyError};

#[test]
fn every_currency_has_its_iso_code_and_exponent() {
    let table = [
        (Currency::USD, "USD", 2, 100),
        (Currency::EUR, "EUR", 2, 100),
        (Currency::GBP, "GBP", 2, 100),
        (Currency::CHF, "CHF", 2, 100),
        (Currency::CAD, "CAD", 2, 100),
        (Currency::AUD, "AUD", 2, 100),
        (Currency::JPY, "JPY", 0, 1),
        (Currency::KRW, "KRW", 0, 1),
        (Currency::BHD, "BHD", 3, 1000),
        (Currency::KWD, "KWD", 3, 1000),
    ];
    assert_eq!(table.len(), Currency::ALL.len());
    for (currency, code, exponent, per_major) in table {
        assert_eq!(currency.code(), code);
        assert_eq!(currency.exponent(), exponent, "{code}");
        assert_eq!(currency.minor_per_major(), per_major, "{code}");
        assert_eq!(currency.to_string(), code);
        assert_eq!(code.parse::<Currency>(), Ok(currency));
    }
}

#[test]
fn all_lists_each_currency_once() {
    let codes: HashSet<_> = Currency::ALL.iter().map(|c| c.code()).collect();
    assert_eq!(codes.len(), Currency::ALL.len());
}

#[test]
fn default_is_usd() {
    assert_eq!(Currency::DEFAULT, Currency::USD);
}

#[test]
fn parsing_is_exact_upper_case() {
    for bad in ["usd", "Usd", " USD", "USD ", "", "US", "USDX", "XXX", "\"USD\""] {
        let err = bad.parse::<Currency>().unwrap_err();
        assert_eq!(err, MoneyError::UnknownCurrency, "{bad:?}");
        assert_eq!(err.code(), "UNKNOWN_CURRENCY");
    }
}

#[test]
fn serde_uses_the_code_string() {
    for currency in Currency::ALL {
        let json = serde_json::to_string(&currency).unwrap();
        assert_eq!(json, format!("\"{}\"", currency.code()));
        assert_eq!(serde_json::from_str::<Currency>(&json).unwrap(), currency);
    }
    let err = serde_json::from_str::<Currency>("\"usd\"").unwrap_err();
    assert!(err.to_string().contains("unknown currency"), "{err}");
    assert!(serde_json::from_str::<Currency>("840").is_err());
    assert!(serde_json::from_str::<Currency>("null").is_err());
}
