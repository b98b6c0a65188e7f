//! Contract escrow and receipts: `GET /v1/settlements/{contract_id}`, `…/receipt`,
//! `POST /v1/receipts/verify`, `GET /v1/receipts/keys`.

use crate::client::{Client, resource};
use crate::error::Result;
use aex_types::{Currency, Money, Timestamp};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The escrow of one contract and, once settled, its split. Ids of other services' records
/// (contract, provider, tenants) are as the award recorded them.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Settlement {
    pub contract_id: String,
    pub hold_id: String,
    /// `HELD`, `SETTLED` or `RELEASED`.
    pub status: String,
    pub currency: Currency,
    pub price: String,
    pub price_minor: i64,
    pub platform_fee: Option<String>,
    pub platform_fee_minor: Option<i64>,
    pub protocol_fee: Option<String>,
    pub protocol_fee_minor: Option<i64>,
    pub payout: Option<String>,
    pub payout_minor: Option<i64>,
    /// The provider's protocol-fee tier at settlement.
    pub tier: Option<String>,
    pub fee_policy_version: Option<String>,
    pub consumer_tenant_id: String,
    pub provider_tenant_id: String,
    pub provider_id: String,
    pub journal_seq: Option<i64>,
    pub release_reason: Option<String>,
    pub held_at: Timestamp,
    pub settled_at: Option<Timestamp>,
    pub released_at: Option<Timestamp>,
}

impl Settlement {
    /// The price as exact money.
    pub fn price(&self) -> Money {
        Money::from_minor(self.price_minor, self.currency)
    }

    /// The provider's payout, once settled.
    pub fn payout(&self) -> Option<Money> {
        self.payout_minor.map(|minor| Money::from_minor(minor, self.currency))
    }
}

/// A settlement receipt signed with ECDSA P-256, verifiable offline with `public_key_pem`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignedReceipt {
    /// The signed fields, all strings: price, splits, parties, contract, journal position, key version.
    pub receipt: BTreeMap<String, String>,
    pub signature: String,
    pub algorithm: String,
    pub key_version: i32,
    pub public_key_pem: String,
}

/// The verdict of `POST /v1/receipts/verify`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ReceiptVerification {
    pub valid: bool,
    pub contract_id: Option<String>,
    /// `bad_signature` or `unknown_key_version` when not valid.
    pub reason: Option<String>,
}

/// One published receipt signing key.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ReceiptKey {
    pub version: i32,
    pub status: String,
    pub algorithm: String,
    pub public_key_pem: String,
}

/// `GET /v1/receipts/keys`: every key receipts were ever signed with.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ReceiptKeys {
    pub issuer: String,
    pub active_version: i32,
    pub keys: Vec<ReceiptKey>,
}

#[derive(Serialize)]
struct VerifyReceipt<'a> {
    receipt: &'a BTreeMap<String, String>,
    signature: &'a str,
}

resource!(
    /// Contract escrow and receipts: `client.settlements()`.
    Settlements
);

impl Client {
    /// Settlements and receipts (settlement).
    pub fn settlements(&self) -> Settlements<'_> {
        Settlements::new(self)
    }
}

impl Settlements<'_> {
    /// `GET /v1/settlements/{contract_id}`: the two parties (or the operator) only.
    pub async fn get(&self, contract_id: &str) -> Result<Settlement> {
        self.call(Method::GET, &["v1", "settlements", contract_id]).send().await
    }

    /// `GET /v1/settlements/{contract_id}/receipt`: 409 `RECEIPT_NOT_AVAILABLE` before settlement.
    pub async fn receipt(&self, contract_id: &str) -> Result<SignedReceipt> {
        self.call(Method::GET, &["v1", "settlements", contract_id, "receipt"]).send().await
    }

    /// `POST /v1/receipts/verify`: checks a receipt's signature against the published keys.
    pub async fn verify_receipt(&self, receipt: &SignedReceipt) -> Result<ReceiptVerification> {
        let body = VerifyReceipt { receipt: &receipt.receipt, signature: &receipt.signature };
        self.call(Method::POST, &["v1", "receipts", "verify"]).json(&body)?.send().await
    }

    /// `GET /v1/receipts/keys` (public).
    pub async fn receipt_keys(&self) -> Result<ReceiptKeys> {
        self.call(Method::GET, &["v1", "receipts", "keys"]).anonymous().send().await
    }

    /// `POST /v1/receipts/keys/rotate` (operator): retires the active receipt key and signs with
    /// a new version from now on; retired versions keep verifying. Answers the published keys.
    pub async fn rotate_receipt_key(&self) -> Result<ReceiptKeys> {
        self.call(Method::POST, &["v1", "receipts", "keys", "rotate"]).send().await
    }
}
