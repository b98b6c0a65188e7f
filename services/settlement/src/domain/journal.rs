//! The journal hash chain: `hash = SHA-256(prev_hash || canonical entry)`, genesis 32 zero bytes.
//!
//! An entry's canonical form is RFC 8785 JSON. Every value is a string (amounts included, as
//! decimal integers), so the canonical form needs only sorted keys, no insignificant whitespace
//! and JSON string escaping — exactly what serializing a `BTreeMap<&str, String>` produces —
//! and no number ever passes through a double.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The hash before the first entry.
pub const GENESIS: [u8; 32] = [0u8; 32];

/// The facts of one committed transfer, as chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub seq: i64,
    pub transfer_id: String,
    pub kind: String,
    pub debit_account_id: String,
    pub credit_account_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub code: String,
    pub reference: Option<String>,
    pub pending_id: Option<String>,
    /// RFC 3339 commit time.
    pub created_at: String,
}

impl JournalEntry {
    /// The RFC 8785 canonical JSON of the entry.
    pub fn canonical(&self) -> String {
        let mut fields: BTreeMap<&str, String> = BTreeMap::new();
        fields.insert("seq", self.seq.to_string());
        fields.insert("transfer_id", self.transfer_id.clone());
        fields.insert("kind", self.kind.clone());
        fields.insert("debit_account_id", self.debit_account_id.clone());
        fields.insert("credit_account_id", self.credit_account_id.clone());
        fields.insert("amount_minor", self.amount_minor.to_string());
        fields.insert("currency", self.currency.clone());
        fields.insert("code", self.code.clone());
        fields.insert("reference", self.reference.clone().unwrap_or_default());
        fields.insert("pending_id", self.pending_id.clone().unwrap_or_default());
        fields.insert("created_at", self.created_at.clone());
        // Serializing a map of strings cannot fail.
        serde_json::to_string(&fields).unwrap_or_default()
    }
}

/// `SHA-256(prev_hash || canonical)`.
pub fn chain_hash(prev_hash: &[u8], canonical: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(canonical.as_bytes());
    hasher.finalize().into()
}

/// A stored chain link: sequence, canonical entry text, and the stored hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLink {
    pub seq: i64,
    pub entry: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// Where and why a chain stops verifying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: &'static str,
}

/// Verifies consecutive links starting after `prev_seq` whose predecessor hash is `prev_hash`.
/// Returns the last verified (seq, hash), or the first break.
pub fn verify_links(prev_seq: i64, prev_hash: &[u8], links: &[StoredLink]) -> Result<(i64, Vec<u8>), ChainBreak> {
    let mut expected_seq = prev_seq;
    let mut expected_prev = prev_hash.to_vec();
    for link in links {
        expected_seq += 1;
        if link.seq != expected_seq {
            return Err(ChainBreak { seq: expected_seq, reason: "missing entry" });
        }
        if link.prev_hash != expected_prev {
            return Err(ChainBreak { seq: link.seq, reason: "previous hash does not match" });
        }
        let computed = chain_hash(&link.prev_hash, &link.entry);
        if link.hash != computed {
            return Err(ChainBreak { seq: link.seq, reason: "entry does not match its hash" });
        }
        expected_prev = computed.to_vec();
    }
    Ok((expected_seq, expected_prev))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn entry(seq: i64, amount: i64) -> JournalEntry {
        JournalEntry {
            seq,
            transfer_id: format!("t{seq}"),
            kind: "posted".into(),
            debit_account_id: "acct_a".into(),
            credit_account_id: "acct_b".into(),
            amount_minor: amount,
            currency: "USD".into(),
            code: "transfer".into(),
            reference: Some("ref \"quoted\" é".into()),
            pending_id: None,
            created_at: "2026-11-21T05:00:00Z".into(),
        }
    }

    fn chain(n: i64) -> Vec<StoredLink> {
        let mut prev = GENESIS.to_vec();
        (1..=n)
            .map(|seq| {
                let text = entry(seq, seq * 100).canonical();
                let hash = chain_hash(&prev, &text).to_vec();
                let link = StoredLink { seq, entry: text, prev_hash: prev.clone(), hash: hash.clone() };
                prev = hash;
                link
            })
            .collect()
    }

    #[test]
    fn canonical_form_has_sorted_keys_and_string_values() {
        let text = entry(1, i64::MAX).canonical();
        assert!(text.starts_with(r#"{"amount_minor":"9223372036854775807","code":"transfer","created_at":"#), "{text}");
        assert!(text.contains(r#""reference":"ref \"quoted\" é""#), "{text}");
        assert!(!text.contains(' ') || text.contains("ref \\\"quoted\\\""), "no insignificant whitespace");
    }

    #[test]
    fn an_intact_chain_verifies_and_any_edit_or_deletion_is_found() {
        let links = chain(5);
        let (seq, head) = verify_links(0, &GENESIS, &links).unwrap();
        assert_eq!(seq, 5);
        assert_eq!(head, links[4].hash);

        let mut edited = links.clone();
        edited[2].entry = entry(3, 999).canonical();
        assert_eq!(
            verify_links(0, &GENESIS, &edited),
            Err(ChainBreak { seq: 3, reason: "entry does not match its hash" })
        );

        let mut deleted = links.clone();
        deleted.remove(1);
        assert_eq!(verify_links(0, &GENESIS, &deleted).unwrap_err().seq, 2);

        let mut rehashed = links.clone();
        rehashed[1].entry = entry(2, 1).canonical();
        rehashed[1].hash = chain_hash(&rehashed[1].prev_hash, &rehashed[1].entry).to_vec();
        assert_eq!(
            verify_links(0, &GENESIS, &rehashed).unwrap_err(),
            ChainBreak { seq: 3, reason: "previous hash does not match" }
        );
    }
}
