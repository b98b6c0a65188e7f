//! Offline checks that need nothing but published data: the journal hash chain of an export and
//! the ECDSA P-256 signatures of settlement receipts and signed journal heads.
//!
//! The rules mirror settlement's `domain::journal` and `domain::receipt`:
//! `hash = SHA-256(prev_hash || canonical entry)` from a genesis of 32 zero bytes, and signatures
//! are base64 DER ECDSA P-256 / SHA-256 over the RFC 8785 canonical JSON of string fields
//! (sorted keys, no whitespace), which is what serializing a `BTreeMap<String, String>` yields.

use aex_client::money::{JournalExport, JournalLink, ReceiptKeys, SignedHead, SignedReceipt};
use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// A journal export as `aex journal export` writes it: the chain from genesis, every link, and
/// the latest signed head, so `aex journal verify FILE` needs no server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalFile {
    pub genesis_hash: String,
    pub head_seq: i64,
    pub head_hash: String,
    #[serde(default)]
    pub signed_head: Option<FileSignedHead>,
    pub links: Vec<FileLink>,
}

/// One chain link: the canonical entry text and its hex hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileLink {
    pub seq: i64,
    pub entry: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A journal head signed with the receipt key of `key_version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSignedHead {
    pub seq: i64,
    pub body: String,
    pub signature: String,
    pub key_version: i32,
}

impl From<JournalLink> for FileLink {
    fn from(link: JournalLink) -> Self {
        Self { seq: link.seq, entry: link.entry, prev_hash: link.prev_hash, hash: link.hash }
    }
}

impl From<SignedHead> for FileSignedHead {
    fn from(head: SignedHead) -> Self {
        Self { seq: head.seq, body: head.body, signature: head.signature, key_version: head.key_version }
    }
}

impl JournalFile {
    /// The export's header (first page) with every link gathered page after page.
    pub fn new(first_page: JournalExport, links: Vec<JournalLink>) -> Self {
        Self {
            genesis_hash: first_page.genesis_hash,
            head_seq: first_page.head_seq,
            head_hash: first_page.head_hash,
            signed_head: first_page.signed_head.map(Into::into),
            links: links.into_iter().map(Into::into).collect(),
        }
    }
}

/// Where a chain stops verifying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// What the offline chain check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub valid: bool,
    pub entries_checked: i64,
    /// The last verified sequence number and its hash.
    pub verified_seq: i64,
    pub verified_hash: String,
    pub first_break: Option<ChainBreak>,
    /// `Some(true)` when the signed head's signature and hash check out, `None` without one.
    pub signed_head_valid: Option<bool>,
    pub signed_head_seq: Option<i64>,
    pub signed_head_problem: Option<String>,
}

/// `SHA-256(prev_hash || canonical)`.
pub fn chain_hash(prev_hash: &[u8], canonical: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(canonical.as_bytes());
    hasher.finalize().into()
}

/// Recomputes the chain of `file` from its genesis and, given the published receipt keys,
/// checks the signed head against the recomputed chain.
pub fn verify_journal(file: &JournalFile, keys: Option<&ReceiptKeys>) -> ChainReport {
    let genesis = hex::decode(&file.genesis_hash).ok().filter(|g| g.len() == 32);
    let mut report = ChainReport {
        valid: false,
        entries_checked: 0,
        verified_seq: 0,
        verified_hash: file.genesis_hash.clone(),
        first_break: None,
        signed_head_valid: None,
        signed_head_seq: file.signed_head.as_ref().map(|h| h.seq),
        signed_head_problem: None,
    };
    let Some(genesis) = genesis else {
        report.first_break = Some(ChainBreak { seq: 0, reason: "genesis hash is not 32 hex bytes".into() });
        return report;
    };
    let mut hashes: BTreeMap<i64, String> = BTreeMap::new();
    let mut expected_prev = genesis;
    let mut expected_seq = 0_i64;
    for link in &file.links {
        expected_seq += 1;
        if let Some(reason) = link_problem(link, expected_seq, &expected_prev) {
            report.first_break = Some(ChainBreak { seq: expected_seq, reason: reason.into() });
            break;
        }
        let computed = chain_hash(&expected_prev, &link.entry);
        expected_prev = computed.to_vec();
        report.entries_checked += 1;
        report.verified_seq = link.seq;
        report.verified_hash = hex::encode(computed);
        hashes.insert(link.seq, report.verified_hash.clone());
    }
    if report.first_break.is_none() && report.verified_seq < file.head_seq {
        report.first_break =
            Some(ChainBreak { seq: report.verified_seq + 1, reason: "missing entry (export ends before head)".into() });
    }
    if report.first_break.is_none() && report.verified_seq == file.head_seq && report.verified_hash != file.head_hash {
        report.first_break = Some(ChainBreak { seq: file.head_seq, reason: "head hash does not match".into() });
    }
    report.valid = report.first_break.is_none();
    if let (Some(head), Some(keys)) = (&file.signed_head, keys) {
        let problem = match &report.first_break {
            Some(brk) if head.seq >= brk.seq => {
                Some(format!("cannot be checked: seq {} lies beyond the first break", head.seq))
            }
            _ => signed_head_problem(head, keys, &hashes),
        };
        report.signed_head_valid = Some(problem.is_none());
        report.signed_head_problem = problem;
        report.valid &= report.signed_head_valid == Some(true);
    }
    report
}

fn link_problem(link: &FileLink, expected_seq: i64, expected_prev: &[u8]) -> Option<&'static str> {
    if link.seq != expected_seq {
        return Some("missing entry");
    }
    if hex::decode(&link.prev_hash).ok().as_deref() != Some(expected_prev) {
        return Some("previous hash does not match");
    }
    if hex::decode(&link.hash).ok().as_deref() != Some(&chain_hash(expected_prev, &link.entry)[..]) {
        return Some("entry does not match its hash");
    }
    // The entry names its own place in the chain; a moved entry would carry another seq.
    let fields: Option<BTreeMap<String, String>> = serde_json::from_str(&link.entry).ok();
    if fields.as_ref().and_then(|f| f.get("seq")) != Some(&link.seq.to_string()) {
        return Some("entry does not state its sequence number");
    }
    None
}

fn signed_head_problem(head: &FileSignedHead, keys: &ReceiptKeys, hashes: &BTreeMap<i64, String>) -> Option<String> {
    let Ok(fields) = serde_json::from_str::<BTreeMap<String, String>>(&head.body) else {
        return Some("signed head body is not string-valued JSON".into());
    };
    let Some(key) = published_key(keys, head.key_version) else {
        return Some(format!("no published receipt key version {}", head.key_version));
    };
    if !verify_fields(&fields, &head.signature, &key) {
        return Some("signed head signature does not verify".into());
    }
    if fields.get("seq") != Some(&head.seq.to_string()) {
        return Some("signed head body names another seq".into());
    }
    match hashes.get(&head.seq) {
        Some(hash) if fields.get("hash") == Some(hash) => None,
        Some(_) => Some(format!("signed head hash differs from the chain at seq {}", head.seq)),
        None => Some(format!("signed head seq {} is not in the export", head.seq)),
    }
}

/// The published verifying key of `version`, if it parses.
pub fn published_key(keys: &ReceiptKeys, version: i32) -> Option<VerifyingKey> {
    keys.keys
        .iter()
        .find(|k| k.version == version)
        .and_then(|k| VerifyingKey::from_public_key_pem(&k.public_key_pem).ok())
}

/// RFC 8785 canonical JSON of string-valued fields.
pub fn canonical(fields: &BTreeMap<String, String>) -> String {
    serde_json::to_string(fields).unwrap_or_default()
}

/// Whether `signature` (base64 DER) signs exactly `fields` under `key`.
pub fn verify_fields(fields: &BTreeMap<String, String>, signature: &str, key: &VerifyingKey) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else { return false };
    let Ok(signature) = DerSignature::from_bytes(&bytes) else { return false };
    key.verify(canonical(fields).as_bytes(), &signature).is_ok()
}

/// What the offline receipt check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptReport {
    pub valid: bool,
    pub key_version: i32,
    pub contract_id: Option<String>,
    pub reason: Option<String>,
}

/// Checks a receipt against the *published* key of its version — never the key the receipt
/// carries, which anyone could replace along with the signature.
pub fn verify_receipt(receipt: &SignedReceipt, keys: &ReceiptKeys) -> ReceiptReport {
    let mut report = ReceiptReport {
        valid: false,
        key_version: receipt.key_version,
        contract_id: receipt.receipt.get("contract_id").cloned(),
        reason: None,
    };
    let Some(key) = published_key(keys, receipt.key_version) else {
        report.reason = Some(format!("no published receipt key version {}", receipt.key_version));
        return report;
    };
    if receipt.receipt.get("key_version") != Some(&receipt.key_version.to_string()) {
        report.reason = Some("the signed fields name another key version".into());
    } else if !verify_fields(&receipt.receipt, &receipt.signature, &key) {
        report.reason = Some("signature does not verify with the published key".into());
    } else {
        report.valid = true;
    }
    report
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use aex_client::money::ReceiptKey;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::{EncodePublicKey, LineEnding};

    fn entry(seq: i64) -> String {
        // The exact form settlement writes: sorted keys, string values.
        let fields: BTreeMap<String, String> = [
            ("seq", seq.to_string()),
            ("transfer_id", format!("t{seq}")),
            ("kind", "posted".into()),
            ("debit_account_id", "acct_a".into()),
            ("credit_account_id", "acct_b".into()),
            ("amount_minor", (seq * 100).to_string()),
            ("currency", "USD".into()),
            ("code", "transfer".into()),
            ("reference", "ref \"quoted\" é".into()),
            ("pending_id", String::new()),
            ("created_at", "2026-11-21T05:00:00Z".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        canonical(&fields)
    }

    fn chain(n: i64) -> JournalFile {
        let mut prev = vec![0u8; 32];
        let links: Vec<FileLink> = (1..=n)
            .map(|seq| {
                let text = entry(seq);
                let hash = chain_hash(&prev, &text).to_vec();
                let link = FileLink { seq, entry: text, prev_hash: hex::encode(&prev), hash: hex::encode(&hash) };
                prev = hash;
                link
            })
            .collect();
        JournalFile {
            genesis_hash: hex::encode([0u8; 32]),
            head_seq: n,
            head_hash: hex::encode(&prev),
            signed_head: None,
            links,
        }
    }

    fn key() -> SigningKey {
        let mut bytes = [7u8; 32];
        bytes[0] = 1;
        SigningKey::from_slice(&bytes).unwrap()
    }

    fn keys_of(key: &SigningKey, version: i32) -> ReceiptKeys {
        ReceiptKeys {
            issuer: "aex-settlement".into(),
            active_version: version,
            keys: vec![ReceiptKey {
                version,
                status: "ACTIVE".into(),
                algorithm: "ECDSA-P256-SHA256".into(),
                public_key_pem: key.verifying_key().to_public_key_pem(LineEnding::LF).unwrap(),
            }],
        }
    }

    fn sign(fields: &BTreeMap<String, String>, key: &SigningKey) -> String {
        let signature: DerSignature = key.sign(canonical(fields).as_bytes());
        base64::engine::general_purpose::STANDARD.encode(signature.as_bytes())
    }

    #[test]
    fn an_intact_chain_verifies_to_its_head() {
        let file = chain(5);
        let report = verify_journal(&file, None);
        assert!(report.valid, "{report:?}");
        assert_eq!((report.entries_checked, report.verified_seq), (5, 5));
        assert_eq!(report.verified_hash, file.head_hash);
        assert_eq!(report.signed_head_valid, None);
    }

    #[test]
    fn the_canonical_entry_matches_settlements_form() {
        assert!(entry(1).starts_with(r#"{"amount_minor":"100","code":"transfer","created_at":"#), "{}", entry(1));
        assert!(entry(1).contains(r#""reference":"ref \"quoted\" é""#));
    }

    #[test]
    fn an_edit_a_deletion_or_a_truncation_is_found_at_its_seq() {
        let mut edited = chain(5);
        edited.links[2].entry = edited.links[2].entry.replace("\"300\"", "\"301\"");
        let report = verify_journal(&edited, None);
        assert!(!report.valid);
        assert_eq!(report.first_break, Some(ChainBreak { seq: 3, reason: "entry does not match its hash".into() }));
        assert_eq!(report.verified_seq, 2);

        let mut deleted = chain(5);
        deleted.links.remove(1);
        assert_eq!(
            verify_journal(&deleted, None).first_break.map(|b| (b.seq, b.reason)),
            Some((2, "missing entry".into()))
        );

        let mut truncated = chain(5);
        truncated.links.truncate(4);
        assert_eq!(verify_journal(&truncated, None).first_break.map(|b| b.seq), Some(5));

        let mut relinked = chain(5);
        relinked.links[3].prev_hash = hex::encode([1u8; 32]);
        assert_eq!(
            verify_journal(&relinked, None).first_break.map(|b| b.reason),
            Some("previous hash does not match".into())
        );
    }

    #[test]
    fn a_signed_head_is_checked_against_the_published_key_and_the_chain() {
        let key = key();
        let mut file = chain(3);
        let fields: BTreeMap<String, String> = [
            ("issuer", "aex-settlement".to_string()),
            ("key_version", "1".into()),
            ("seq", "2".into()),
            ("hash", file.links[1].hash.clone()),
            ("signed_at", "2026-11-21T05:00:00Z".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        file.signed_head =
            Some(FileSignedHead { seq: 2, body: canonical(&fields), signature: sign(&fields, &key), key_version: 1 });
        let report = verify_journal(&file, Some(&keys_of(&key, 1)));
        assert_eq!((report.valid, report.signed_head_valid), (true, Some(true)), "{report:?}");

        let other = SigningKey::from_slice(&[9u8; 32]).unwrap();
        let report = verify_journal(&file, Some(&keys_of(&other, 1)));
        assert_eq!((report.valid, report.signed_head_valid), (false, Some(false)));
        assert_eq!(report.signed_head_problem.as_deref(), Some("signed head signature does not verify"));
        let report = verify_journal(&file, Some(&keys_of(&key, 2)));
        assert_eq!(report.signed_head_problem.as_deref(), Some("no published receipt key version 1"));
    }

    fn receipt(key: &SigningKey) -> SignedReceipt {
        let fields: BTreeMap<String, String> =
            [("contract_id", "contract_1"), ("key_version", "1"), ("price_minor", "10000"), ("payout_minor", "8192")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        SignedReceipt {
            signature: sign(&fields, key),
            receipt: fields,
            algorithm: "ECDSA-P256-SHA256".into(),
            key_version: 1,
            public_key_pem: key.verifying_key().to_public_key_pem(LineEnding::LF).unwrap(),
        }
    }

    #[test]
    fn a_receipt_verifies_with_the_published_key_and_any_change_breaks_it() {
        let key = key();
        let keys = keys_of(&key, 1);
        let good = receipt(&key);
        let report = verify_receipt(&good, &keys);
        assert!(report.valid, "{report:?}");
        assert_eq!(report.contract_id.as_deref(), Some("contract_1"));

        let mut tampered = good.clone();
        tampered.receipt.insert("payout_minor".into(), "9192".into());
        assert_eq!(
            verify_receipt(&tampered, &keys).reason.as_deref(),
            Some("signature does not verify with the published key")
        );

        // A forger who re-signs with their own key and ships their own PEM is still refused:
        // only the published key counts.
        let forger = SigningKey::from_slice(&[3u8; 32]).unwrap();
        let forged = receipt(&forger);
        assert!(!verify_receipt(&forged, &keys).valid);
        let mut garbled = good;
        garbled.signature = "not base64!".into();
        assert!(!verify_receipt(&garbled, &keys).valid);
    }
}
