//! Settlement receipts: the facts of one settled deal, in canonical JSON (every value a string,
//! keys sorted, no whitespace), signed with ECDSA P-256 / SHA-256. Anyone holding the published
//! public key can re-canonicalize a receipt and check its signature offline.

use base64::Engine;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use std::collections::BTreeMap;

/// The signature algorithm of receipts.
pub const ALGORITHM: &str = "ECDSA-P256-SHA256";

/// A receipt's fields. All values are strings so the canonical form never passes a number
/// through a double.
pub type ReceiptFields = BTreeMap<String, String>;

/// RFC 8785 canonical JSON of string-valued fields.
pub fn canonical(fields: &ReceiptFields) -> String {
    serde_json::to_string(fields).unwrap_or_default()
}

/// Base64 of the DER signature of the canonical form.
pub fn sign(fields: &ReceiptFields, key: &SigningKey) -> String {
    let signature: DerSignature = key.sign(canonical(fields).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(signature.as_bytes())
}

/// Whether `signature` signs exactly these fields under `key`. Malformed input is not valid.
pub fn verify(fields: &ReceiptFields, signature: &str, key: &VerifyingKey) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else { return false };
    let Ok(signature) = DerSignature::from_bytes(&bytes) else { return false };
    key.verify(canonical(fields).as_bytes(), &signature).is_ok()
}

/// A fresh P-256 signing key from the OS RNG.
pub fn generate_key() -> Option<SigningKey> {
    for _ in 0..16 {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).ok()?;
        let key = SigningKey::from_slice(&bytes);
        bytes.fill(0);
        if let Ok(key) = key {
            return Some(key);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn fields() -> ReceiptFields {
        [("contract_id", "contract_1"), ("price_minor", "10000"), ("payout_minor", "8192")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_signed_receipt_verifies_and_any_change_breaks_it() {
        let key = generate_key().unwrap();
        let signature = sign(&fields(), &key);
        assert!(verify(&fields(), &signature, key.verifying_key()));
        assert_eq!(canonical(&fields()), r#"{"contract_id":"contract_1","payout_minor":"8192","price_minor":"10000"}"#);
        let mut tampered = fields();
        tampered.insert("payout_minor".into(), "9192".into());
        assert!(!verify(&tampered, &signature, key.verifying_key()));
        let other = generate_key().unwrap();
        assert!(!verify(&fields(), &signature, other.verifying_key()));
        assert!(!verify(&fields(), "not base64!", key.verifying_key()));
        assert!(!verify(&fields(), "AAAA", key.verifying_key()));
    }
}
