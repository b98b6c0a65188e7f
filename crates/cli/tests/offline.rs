//! The CLI's offline checks against data made by settlement's own code: its journal entries,
//! chain hashes and receipt signatures — so the CLI and the service cannot drift apart silently.

#![allow(clippy::unwrap_used)]

use aex_cli::verify::{self, FileLink, FileSignedHead, JournalFile};
use aex_client::money::{ReceiptKey, ReceiptKeys, SignedReceipt};
use aex_settlement::domain::journal::{GENESIS, JournalEntry, chain_hash};
use aex_settlement::domain::receipt;
use p256::pkcs8::{EncodePublicKey, LineEnding};
use std::collections::BTreeMap;

fn settlement_chain(n: i64) -> JournalFile {
    let mut prev = GENESIS.to_vec();
    let links = (1..=n)
        .map(|seq| {
            let entry = JournalEntry {
                seq,
                transfer_id: format!("transfer_{seq}"),
                kind: if seq % 2 == 0 { "post_pending".into() } else { "pending".into() },
                debit_account_id: "acct_consumer".into(),
                credit_account_id: "acct_escrow".into(),
                amount_minor: 7_250 * seq,
                currency: "USD".into(),
                code: "escrow_hold".into(),
                reference: Some(format!("contract_{seq} \"quoted\" ü")),
                pending_id: (seq % 2 == 0).then(|| format!("transfer_{}", seq - 1)),
                created_at: "2026-11-21T08:00:00.123456Z".into(),
            }
            .canonical();
            let hash = chain_hash(&prev, &entry).to_vec();
            let link = FileLink { seq, entry, prev_hash: hex::encode(&prev), hash: hex::encode(&hash) };
            prev = hash;
            link
        })
        .collect();
    JournalFile {
        genesis_hash: hex::encode(GENESIS),
        head_seq: n,
        head_hash: hex::encode(&prev),
        signed_head: None,
        links,
    }
}

fn published(key: &p256::ecdsa::SigningKey, version: i32) -> ReceiptKeys {
    ReceiptKeys {
        issuer: "aex-settlement".into(),
        active_version: version,
        keys: vec![ReceiptKey {
            version,
            status: "ACTIVE".into(),
            algorithm: receipt::ALGORITHM.into(),
            public_key_pem: key.verifying_key().to_public_key_pem(LineEnding::LF).unwrap(),
        }],
    }
}

fn strings(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[test]
fn a_chain_written_by_settlement_verifies_offline_with_its_signed_head() {
    let key = receipt::generate_key().unwrap();
    let mut file = settlement_chain(6);
    let head = strings(&[
        ("issuer", "aex-settlement".into()),
        ("key_version", "3".into()),
        ("seq", "5".into()),
        ("hash", file.links[4].hash.clone()),
        ("signed_at", "2026-11-21T08:01:00Z".into()),
    ]);
    file.signed_head = Some(FileSignedHead {
        seq: 5,
        body: receipt::canonical(&head),
        signature: receipt::sign(&head, &key),
        key_version: 3,
    });

    let report = verify::verify_journal(&file, Some(&published(&key, 3)));
    assert!(report.valid, "{report:?}");
    assert_eq!((report.entries_checked, report.signed_head_valid), (6, Some(true)));

    // One changed amount breaks the chain at its entry, and the signed head past it is not vouched for.
    let mut tampered = file.clone();
    tampered.links[2].entry = tampered.links[2].entry.replace("\"21750\"", "\"21751\"");
    let report = verify::verify_journal(&tampered, Some(&published(&key, 3)));
    assert!(!report.valid);
    assert_eq!(report.first_break.map(|b| (b.seq, b.reason)), Some((3, "entry does not match its hash".to_string())));
    assert_eq!(report.signed_head_valid, Some(false));
}

#[test]
fn a_receipt_signed_by_settlement_verifies_offline_only_with_the_published_key() {
    let key = receipt::generate_key().unwrap();
    let fields = strings(&[
        ("contract_id", "contract_abc".into()),
        ("key_version", "2".into()),
        ("price_minor", "7250".into()),
        ("payout_minor", "5931".into()),
        ("platform_fee_minor", "1088".into()),
        ("protocol_fee_minor", "231".into()),
    ]);
    let signed = SignedReceipt {
        signature: receipt::sign(&fields, &key),
        receipt: fields,
        algorithm: receipt::ALGORITHM.into(),
        key_version: 2,
        public_key_pem: key.verifying_key().to_public_key_pem(LineEnding::LF).unwrap(),
    };
    assert_eq!(verify::canonical(&signed.receipt), receipt::canonical(&signed.receipt));
    assert!(verify::verify_receipt(&signed, &published(&key, 2)).valid);

    let other = receipt::generate_key().unwrap();
    let report = verify::verify_receipt(&signed, &published(&other, 2));
    assert_eq!(report.reason.as_deref(), Some("signature does not verify with the published key"));
    let mut changed = signed;
    changed.receipt.insert("payout_minor".into(), "6931".into());
    assert!(!verify::verify_receipt(&changed, &published(&key, 2)).valid);
}
