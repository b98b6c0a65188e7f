//! Work-publisher's HTTP API, one file per resource; handlers extract, authorize and delegate.

pub mod agent_cards;
pub mod bids;
pub mod contracts;
pub mod providers;
pub mod subscriptions;
pub mod work;

use crate::error::{Error, Result};
use aex_common::server::wire;
use aex_types::{Currency, Money};
use serde_json::Value;

pub use aex_common::server::wire::Page;

/// A wire amount (see [`aex_common::server::wire::amount`]); zero allowed with `allow_zero`.
pub fn parse_amount(value: &Value, currency: Currency, field: &str, allow_zero: bool) -> Result<Money> {
    Ok(wire::amount(value, currency, field, allow_zero)?)
}

/// An optional currency code, defaulting to USD.
pub fn parse_currency(value: Option<&str>) -> Result<Currency> {
    Ok(wire::currency(value)?)
}

/// A required text of 1 to `max` characters, without control characters.
pub fn required_text(value: Option<String>, field: &str, max: usize) -> Result<String> {
    let text = value.map(|t| t.trim().to_string()).unwrap_or_default();
    if text.is_empty() {
        return Err(Error::validation(format!("{field} is required")));
    }
    optional_text(Some(text), field, max).map(Option::unwrap_or_default)
}

/// An optional text of at most `max` characters, without control characters.
pub fn optional_text(value: Option<String>, field: &str, max: usize) -> Result<Option<String>> {
    match value {
        Some(text) if text.chars().count() > max => {
            Err(Error::validation(format!("{field} must be at most {max} characters")))
        }
        Some(text) if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
            Err(Error::validation(format!("{field} must not contain control characters")))
        }
        other => Ok(other),
    }
}

/// An absolute http(s) URL with a host.
pub fn http_url(value: &str, field: &str) -> Result<String> {
    let invalid = || Error::validation(format!("{field} must be an absolute http or https URL"));
    if value.len() > 2048 {
        return Err(Error::validation(format!("{field} must be at most 2048 characters")));
    }
    let url = url::Url::parse(value).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::validation(format!("{field} must not embed credentials")));
    }
    Ok(url.to_string())
}

/// A plausible e-mail address: one `@` between a local part and a dotted domain.
pub fn email(value: Option<String>, field: &str) -> Result<String> {
    let text = required_text(value, field, 254)?;
    let valid = match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid { Ok(text) } else { Err(Error::validation(format!("{field} must be an e-mail address"))) }
}

/// A list of short labels (capabilities, regions, fields): each 1–128 visible characters,
/// at most `max` of them; lower-cased when `lower` is set.
pub fn labels(values: Vec<String>, field: &str, max: usize, lower: bool) -> Result<Vec<String>> {
    if values.len() > max {
        return Err(Error::validation(format!("{field} holds at most {max} entries")));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let value = value.trim();
        if value.is_empty() || value.len() > 128 || !value.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Error::validation(format!("{field} entries must be 1 to 128 visible ASCII characters")));
        }
        let value = if lower { value.to_ascii_lowercase() } else { value.to_string() };
        if !out.contains(&value) {
            out.push(value);
        }
    }
    Ok(out)
}

/// A client-supplied JSON document Postgres can store: no NUL characters in any string or key
/// (JSONB refuses `\u0000`), and at most `max_bytes` serialized.
pub fn storable_json(value: &Value, field: &str, max_bytes: usize) -> Result<()> {
    fn has_nul(value: &Value) -> bool {
        match value {
            Value::String(text) => text.contains('\0'),
            Value::Array(items) => items.iter().any(has_nul),
            Value::Object(map) => map.iter().any(|(key, item)| key.contains('\0') || has_nul(item)),
            _ => false,
        }
    }
    if has_nul(value) {
        return Err(Error::validation(format!("{field} must not contain NUL characters")));
    }
    if serde_json::to_vec(value).map(|bytes| bytes.len()).unwrap_or(usize::MAX) > max_bytes {
        return Err(Error::validation(format!("{field} must be at most {} KiB", max_bytes / 1024)));
    }
    Ok(())
}

/// An id of the given prefix, or 404: a malformed id names nothing (and never reaches SQL).
pub fn known_id(id: &str, prefix: &'static str) -> Result<()> {
    aex_types::id::validate(id, prefix).map_err(|_| Error::NotFound)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urls_must_be_absolute_http_without_credentials() {
        assert_eq!(http_url("https://a.example.com/x", "f").unwrap(), "https://a.example.com/x");
        assert!(http_url("http://127.0.0.1:8080", "f").is_ok());
        for bad in
            ["ftp://a.example.com", "javascript:alert(1)", "a.example.com", "https://", "https://u:p@a.example.com", ""]
        {
            assert!(http_url(bad, "f").is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(email(Some("ops@a.example.com".into()), "e").is_ok());
        for bad in ["ops", "@a.com", "ops@com", "ops@.com", "ops@a.com.", "o ps@a.com", "a@b@c.com"] {
            assert!(email(Some(bad.into()), "e").is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_are_exact_decimals_and_never_floats() {
        let usd = Currency::DEFAULT;
        assert_eq!(parse_amount(&json!("12.50"), usd, "p", false).unwrap().minor(), 1250);
        assert!(parse_amount(&json!(12), usd, "p", false).is_err(), "integers are not money either");
        assert_eq!(parse_amount(&json!("0"), usd, "p", true).unwrap().minor(), 0);
        assert!(parse_amount(&json!("0"), usd, "p", false).is_err());
        assert!(parse_amount(&json!(12.5), usd, "p", false).is_err());
        assert!(parse_amount(&json!("0.1e1"), usd, "p", false).is_err());
        assert!(parse_amount(&json!(true), usd, "p", false).is_err());
    }

    #[test]
    fn stored_json_has_no_nul_and_a_bounded_size() {
        assert!(storable_json(&json!({ "a": ["b", { "c": 1 }] }), "j", 1024).is_ok());
        assert!(storable_json(&json!({ "a": ["b\u{0}"] }), "j", 1024).is_err());
        assert!(storable_json(&json!({ "\u{0}": 1 }), "j", 1024).is_err());
        assert!(storable_json(&json!("x".repeat(2000)), "j", 1024).is_err());
    }

    #[test]
    fn labels_are_trimmed_deduplicated_and_bounded() {
        let out = labels(vec![" EU ".into(), "eu".into(), "us".into()], "regions", 4, true).unwrap();
        assert_eq!(out, vec!["eu", "us"]);
        assert!(labels(vec!["a b".into()], "regions", 4, true).is_err());
        assert!(labels(vec!["a".into(); 5], "regions", 4, true).is_err());
    }
}
