//! The AEX signed credential: the certificate's fields in canonical JSON, an ECDSA P-256 /
//! SHA-256 signature over exactly those bytes (base64 of the DER signature), and the SHA-256
//! fingerprint of the same bytes; and the verification verdict.
//!
//! Canonical form: RFC 8785 for the values used here — object keys sorted, no insignificant
//! whitespace, JSON string escaping, integers only (no floats), absent optional fields omitted.
//! Every object is a `BTreeMap`, so key order never depends on serde_json features.

use super::request::{CertificateType, Claim};
use base64::Engine;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The signed fields of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub certificate_id: String,
    pub certificate_type: CertificateType,
    pub provider_id: String,
    pub agent_name: String,
    pub claims: Vec<Claim>,
    /// SHA-256 (hex) of the agent's SubjectPublicKeyInfo DER: binds the credential to the key.
    pub subject_key_sha256: String,
    /// The X.509 serial number, hex.
    pub serial: String,
    pub issuer: String,
    /// The CA key that signed (`aex-ca-v{key_version}`).
    pub key_id: String,
    pub key_version: i32,
    pub issued_at: String,
    pub not_before: String,
    pub not_after: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_cert_id: Option<String>,
    pub renewal_count: i32,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Canon<'a> {
    Text(&'a str),
    Integer(i64),
    Objects(Vec<BTreeMap<&'static str, &'a str>>),
}

/// Canonical JSON of a claim list (also the X.509 claims extension's content).
fn canonical_claims(claims: &[Claim]) -> Vec<BTreeMap<&'static str, &str>> {
    claims
        .iter()
        .map(|claim| {
            let mut map = BTreeMap::new();
            map.insert("category", claim.category.as_str());
            map.insert("capability", claim.capability.as_str());
            if let Some(scope) = &claim.scope {
                map.insert("scope", scope.as_str());
            }
            map.insert("authorization", claim.authorization.as_str());
            map
        })
        .collect()
}

impl Credential {
    /// The exact bytes that are signed and fingerprinted.
    pub fn canonical(&self) -> String {
        let mut fields: BTreeMap<&'static str, Canon<'_>> = BTreeMap::new();
        fields.insert("certificate_id", Canon::Text(&self.certificate_id));
        fields.insert("certificate_type", Canon::Text(self.certificate_type.as_str()));
        fields.insert("provider_id", Canon::Text(&self.provider_id));
        fields.insert("agent_name", Canon::Text(&self.agent_name));
        fields.insert("claims", Canon::Objects(canonical_claims(&self.claims)));
        fields.insert("subject_key_sha256", Canon::Text(&self.subject_key_sha256));
        fields.insert("serial", Canon::Text(&self.serial));
        fields.insert("issuer", Canon::Text(&self.issuer));
        fields.insert("key_id", Canon::Text(&self.key_id));
        fields.insert("key_version", Canon::Integer(i64::from(self.key_version)));
        fields.insert("issued_at", Canon::Text(&self.issued_at));
        fields.insert("not_before", Canon::Text(&self.not_before));
        fields.insert("not_after", Canon::Text(&self.not_after));
        if let Some(previous) = &self.previous_cert_id {
            fields.insert("previous_cert_id", Canon::Text(previous));
        }
        fields.insert("renewal_count", Canon::Integer(i64::from(self.renewal_count)));
        // Maps of strings and integers always serialize.
        serde_json::to_string(&fields).unwrap_or_default()
    }

    /// The content of the X.509 claims extension: id, type and claims, canonical.
    pub fn claims_extension_json(&self) -> String {
        let mut fields: BTreeMap<&'static str, Canon<'_>> = BTreeMap::new();
        fields.insert("certificate_id", Canon::Text(&self.certificate_id));
        fields.insert("certificate_type", Canon::Text(self.certificate_type.as_str()));
        fields.insert("claims", Canon::Objects(canonical_claims(&self.claims)));
        serde_json::to_string(&fields).unwrap_or_default()
    }

    /// Signs the canonical form: (signature as base64 DER, fingerprint as hex SHA-256).
    pub fn sign(&self, key: &SigningKey) -> (String, String) {
        let canonical = self.canonical();
        let signature: DerSignature = key.sign(canonical.as_bytes());
        (base64::engine::general_purpose::STANDARD.encode(signature.as_bytes()), fingerprint(&canonical))
    }

    /// Whether `signature` (base64 DER) is a valid signature of the canonical form by `key`.
    /// Malformed input is simply not valid.
    pub fn signature_valid(&self, signature: &str, key: &VerifyingKey) -> bool {
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else { return false };
        let Ok(signature) = DerSignature::from_bytes(&bytes) else { return false };
        key.verify(self.canonical().as_bytes(), &signature).is_ok()
    }
}

/// `t` truncated to whole seconds: credentials, X.509 and CRLs all carry second precision.
pub fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

/// RFC 3339 text of `t` at whole seconds (`2026-11-21T05:00:00Z`).
pub fn rfc3339(t: OffsetDateTime) -> String {
    whole_seconds(t.to_offset(time::UtcOffset::UTC))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// SHA-256 of a canonical form, lower-case hex.
pub fn fingerprint(canonical: &str) -> String {
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Signs arbitrary canonical text (CRLs use the same scheme as credentials).
pub fn sign_text(text: &str, key: &SigningKey) -> String {
    let signature: DerSignature = key.sign(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(signature.as_bytes())
}

/// The lifecycle of an issued certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CertStatus {
    Active,
    Revoked,
    Superseded,
    Suspended,
}

impl CertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CertStatus::Active => "ACTIVE",
            CertStatus::Revoked => "REVOKED",
            CertStatus::Superseded => "SUPERSEDED",
            CertStatus::Suspended => "SUSPENDED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ACTIVE" => Some(CertStatus::Active),
            "REVOKED" => Some(CertStatus::Revoked),
            "SUPERSEDED" => Some(CertStatus::Superseded),
            "SUSPENDED" => Some(CertStatus::Suspended),
            _ => None,
        }
    }
}

/// The state of a CA key version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Retired,
    Revoked,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Retired => "retired",
            KeyStatus::Revoked => "revoked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(KeyStatus::Active),
            "retired" => Some(KeyStatus::Retired),
            "revoked" => Some(KeyStatus::Revoked),
            _ => None,
        }
    }
}

/// Everything verification looks at, gathered by the caller.
#[derive(Debug, Clone)]
pub struct VerificationFacts<'a> {
    pub credential: &'a Credential,
    pub signature_valid: bool,
    /// The stored credential differs from the one presented.
    pub matches_record: bool,
    pub key_status: KeyStatus,
    pub status: CertStatus,
    pub now: OffsetDateTime,
}

/// Why a certificate does not verify, most fundamental first; empty means valid.
pub fn verification_errors(facts: &VerificationFacts<'_>) -> Vec<&'static str> {
    let mut errors = Vec::new();
    if !facts.signature_valid {
        errors.push("invalid_signature");
    }
    if !facts.matches_record {
        errors.push("credential_mismatch");
    }
    if facts.key_status == KeyStatus::Revoked {
        errors.push("revoked_key");
    }
    match facts.status {
        CertStatus::Active => {}
        CertStatus::Revoked => errors.push("revoked"),
        CertStatus::Superseded => errors.push("superseded"),
        CertStatus::Suspended => errors.push("suspended"),
    }
    let parse = |text: &str| OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok();
    match (parse(&facts.credential.not_before), parse(&facts.credential.not_after)) {
        (Some(not_before), Some(not_after)) => {
            if facts.now < not_before {
                errors.push("not_yet_valid");
            }
            if facts.now > not_after {
                errors.push("expired");
            }
        }
        _ => errors.push("invalid_validity"),
    }
    errors
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::ca::generate_key;
    use proptest::prelude::*;

    pub(crate) fn sample() -> Credential {
        Credential {
            certificate_id: "cert_0123456789abcdefghjkmnpqrs".into(),
            certificate_type: CertificateType::Capability,
            provider_id: "prov_1".into(),
            agent_name: "Agent \"Q\" é".into(),
            claims: vec![Claim {
                category: "translation".into(),
                capability: "en-de".into(),
                scope: Some("eu".into()),
                authorization: "FULL".into(),
            }],
            subject_key_sha256: "ab".repeat(32),
            serial: "0a0b".into(),
            issuer: "AEX Certificate Authority".into(),
            key_id: "aex-ca-v1".into(),
            key_version: 1,
            issued_at: "2026-11-21T05:00:00Z".into(),
            not_before: "2026-11-21T05:00:00Z".into(),
            not_after: "2027-11-21T05:00:00Z".into(),
            previous_cert_id: None,
            renewal_count: 0,
        }
    }

    #[test]
    fn the_canonical_form_has_sorted_keys_and_no_whitespace() {
        let text = sample().canonical();
        assert!(text.starts_with(r#"{"agent_name":"Agent \"Q\" é","certificate_id":"#), "{text}");
        assert!(
            text.contains(
                r#""claims":[{"authorization":"FULL","capability":"en-de","category":"translation","scope":"eu"}]"#
            ),
            "{text}"
        );
        assert!(text.contains(r#""key_version":1,"#), "{text}");
        assert!(!text.contains("previous_cert_id"));
        assert!(!text.contains(": ") && !text.contains(", "));
        // The same credential read back from its JSON has the same canonical form.
        let json = serde_json::to_string_pretty(&sample()).unwrap();
        let back: Credential = serde_json::from_str(&json).unwrap();
        assert_eq!(back.canonical(), text);
    }

    #[test]
    fn a_signature_verifies_only_for_the_same_fields_and_key() {
        let key = generate_key().unwrap();
        let credential = sample();
        let (signature, fp) = credential.sign(&key);
        assert_eq!(fp.len(), 64);
        assert!(credential.signature_valid(&signature, key.verifying_key()));
        let mut changed = credential.clone();
        changed.not_after = "2099-11-21T05:00:00Z".into();
        assert!(!changed.signature_valid(&signature, key.verifying_key()));
        let other = generate_key().unwrap();
        assert!(!credential.signature_valid(&signature, other.verifying_key()));
        for garbage in ["", "!!!", "AAAA", &"A".repeat(10_000)] {
            assert!(!credential.signature_valid(garbage, key.verifying_key()));
        }
    }

    fn facts(credential: &Credential) -> VerificationFacts<'_> {
        VerificationFacts {
            credential,
            signature_valid: true,
            matches_record: true,
            key_status: KeyStatus::Retired,
            status: CertStatus::Active,
            now: OffsetDateTime::parse("2027-01-01T00:00:00Z", &time::format_description::well_known::Rfc3339).unwrap(),
        }
    }

    #[test]
    fn each_defect_has_its_reason() {
        let credential = sample();
        assert!(verification_errors(&facts(&credential)).is_empty());
        let mut f = facts(&credential);
        f.signature_valid = false;
        assert_eq!(verification_errors(&f), ["invalid_signature"]);
        let mut f = facts(&credential);
        f.key_status = KeyStatus::Revoked;
        assert_eq!(verification_errors(&f), ["revoked_key"]);
        for (status, reason) in [
            (CertStatus::Revoked, "revoked"),
            (CertStatus::Superseded, "superseded"),
            (CertStatus::Suspended, "suspended"),
        ] {
            let mut f = facts(&credential);
            f.status = status;
            assert_eq!(verification_errors(&f), [reason]);
        }
        let mut f = facts(&credential);
        f.now += time::Duration::days(400);
        assert_eq!(verification_errors(&f), ["expired"]);
        let mut f = facts(&credential);
        f.now -= time::Duration::days(400);
        assert_eq!(verification_errors(&f), ["not_yet_valid"]);
        let mut broken = sample();
        broken.not_after = "tomorrow".into();
        assert_eq!(verification_errors(&facts(&broken)), ["invalid_validity"]);
    }

    proptest! {
        /// Any change to a signed text field breaks the signature.
        #[test]
        fn tampering_with_any_field_breaks_the_signature(agent in "\\PC{1,20}", provider in "[a-z0-9_]{1,20}") {
            let key = generate_key().unwrap();
            let credential = sample();
            let (signature, _) = credential.sign(&key);
            let mut changed = credential.clone();
            changed.agent_name = agent;
            changed.provider_id = provider;
            prop_assert_eq!(changed.signature_valid(&signature, key.verifying_key()), changed == credential);
        }
    }
}
