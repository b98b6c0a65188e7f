//! What a certificate request may say: its type, its claims, the provider and agent names.
//! Everything here ends up inside a signed credential and an X.509 name, so the rules are
//! strict: bounded lengths and character sets that never need escaping.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The kinds of certificate AEX issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CertificateType {
    Capability,
    Identity,
    Reputation,
    Reseller,
}

impl CertificateType {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateType::Capability => "CAPABILITY",
            CertificateType::Identity => "IDENTITY",
            CertificateType::Reputation => "REPUTATION",
            CertificateType::Reseller => "RESELLER",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "CAPABILITY" => Some(CertificateType::Capability),
            "IDENTITY" => Some(CertificateType::Identity),
            "REPUTATION" => Some(CertificateType::Reputation),
            "RESELLER" => Some(CertificateType::Reseller),
            _ => None,
        }
    }
}

/// One capability claim: what the agent may do, where, and at which authorization level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub category: String,
    pub capability: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub authorization: String,
}

pub const MAX_CLAIMS: usize = 32;
const MAX_NAME: usize = 128;
const MAX_TOKEN: usize = 64;
const MAX_SCOPE: usize = 256;

/// A rule a request broke; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Cow<'static, str>);

fn invalid(message: impl Into<Cow<'static, str>>) -> Invalid {
    Invalid(message.into())
}

/// Provider ids: 1 to 128 of `A-Z a-z 0-9 _ - . :`.
pub fn validate_provider_id(id: &str) -> Result<(), Invalid> {
    let ok = !id.is_empty()
        && id.len() <= MAX_NAME
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    ok.then_some(()).ok_or_else(|| invalid("provider_id must be 1 to 128 characters of A-Z a-z 0-9 _ - . :"))
}

/// Agent names: 1 to 128 letters, digits, spaces and `_ - . : @ ( )`, no leading or trailing space.
pub fn validate_agent_name(name: &str) -> Result<(), Invalid> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME
        && name.trim() == name
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.' | ':' | '@' | '(' | ')'));
    ok.then_some(()).ok_or_else(|| {
        invalid(
            "agent_name must be 1 to 128 letters, digits, spaces and _ - . : @ ( ), without leading or trailing spaces",
        )
    })
}

fn validate_token(field: &'static str, value: &str) -> Result<(), Invalid> {
    let ok = !value.is_empty()
        && value.len() <= MAX_TOKEN
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'/' | b'*'));
    ok.then_some(()).ok_or_else(|| {
        invalid(format!("claims[].{field} must be 1 to {MAX_TOKEN} characters of A-Z a-z 0-9 _ - . : / *"))
    })
}

/// 1 to [`MAX_CLAIMS`] claims, each well formed, no duplicates.
pub fn validate_claims(claims: &[Claim]) -> Result<(), Invalid> {
    if claims.is_empty() || claims.len() > MAX_CLAIMS {
        return Err(invalid(format!("claims must hold 1 to {MAX_CLAIMS} claims")));
    }
    for (i, claim) in claims.iter().enumerate() {
        validate_token("category", &claim.category)?;
        validate_token("capability", &claim.capability)?;
        validate_token("authorization", &claim.authorization)?;
        if let Some(scope) = &claim.scope
            && (scope.is_empty() || scope.len() > MAX_SCOPE || scope.chars().any(char::is_control))
        {
            return Err(invalid(format!(
                "claims[].scope must be 1 to {MAX_SCOPE} characters without control characters"
            )));
        }
        if claims[..i].contains(claim) {
            return Err(invalid("claims must not repeat"));
        }
    }
    Ok(())
}

/// Does a claim grant `capability` in `category`? A claim's `*` matches anything.
pub fn grants(claim: &Claim, category: &str, capability: &str) -> bool {
    let matches = |granted: &str, asked: &str| granted == "*" || granted == asked;
    matches(&claim.category, category) && matches(&claim.capability, capability)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn claim(category: &str, capability: &str) -> Claim {
        Claim { category: category.into(), capability: capability.into(), scope: None, authorization: "FULL".into() }
    }

    #[test]
    fn names_and_claims_follow_their_rules() {
        assert!(validate_provider_id("prov_0123456789abcdefghjkmnpqrs").is_ok());
        for bad in ["", "a,b", "x=y", "p\n", &"p".repeat(129)] {
            assert!(validate_provider_id(bad).is_err(), "{bad:?}");
        }
        assert!(validate_agent_name("Translator Agent (EU) v2.1").is_ok());
        assert!(validate_agent_name("Überset-Agent").is_ok());
        for bad in ["", " lead", "trail ", "a,b", "CN=x", "a+b", "a\\b", "quote\"", "#hash"] {
            assert!(validate_agent_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_claims(&[claim("translation", "en-de")]).is_ok());
        assert!(validate_claims(&[]).is_err());
        assert!(validate_claims(&[claim("a", "b"), claim("a", "b")]).is_err());
        assert!(validate_claims(&[claim("", "b")]).is_err());
        assert!(validate_claims(&vec![claim("a", "b"); 33]).is_err());
        let mut scoped = claim("a", "b");
        scoped.scope = Some(String::new());
        assert!(validate_claims(&[scoped]).is_err());
    }

    #[test]
    fn certificate_types_round_trip() {
        for t in [
            CertificateType::Capability,
            CertificateType::Identity,
            CertificateType::Reputation,
            CertificateType::Reseller,
        ] {
            assert_eq!(CertificateType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap_or_default(), t.as_str());
        }
        assert_eq!(CertificateType::parse("capability"), None);
    }

    #[test]
    fn wildcards_grant_any_value() {
        assert!(grants(&claim("translation", "*"), "translation", "en-de"));
        assert!(grants(&claim("*", "*"), "x", "y"));
        assert!(!grants(&claim("translation", "en-fr"), "translation", "en-de"));
    }

    proptest! {
        /// Whatever passes validation can be written into an X.509 name without escaping.
        #[test]
        fn valid_agent_names_have_no_name_syntax(name in "\\PC{0,40}") {
            if validate_agent_name(&name).is_ok() {
                prop_assert!(!name.contains([',', '+', '=', '"', '\\', '<', '>', ';', '#']));
            }
        }
    }
}
