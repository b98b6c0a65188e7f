//! The certificate authority: its published keys (`/.well-known/aex-ca.json`), the signed CRL
//! (JSON and DER), and the operator's key rotation and key-version revocation.

use crate::client::{Client, resource};
use crate::error::Result;
use aex_types::{CertificateId, Timestamp};
use reqwest::Method;
use serde::Deserialize;

/// One CA key version.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CaKey {
    pub version: i32,
    /// `aex-ca-v<version>`.
    pub key_id: String,
    /// `active`, `retired` (verifies, no longer signs) or `revoked`.
    pub status: String,
    pub public_key_pem: String,
    /// The CA's X.509 certificate for this key, PEM.
    pub certificate: String,
    pub created_at: Timestamp,
    pub retired_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// `GET /.well-known/aex-ca.json`: the active key and every other version.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CaDocument {
    pub issuer: String,
    /// `ECDSA-P256-SHA256`.
    pub algorithm: String,
    pub key_id: Option<String>,
    pub public_key_pem: Option<String>,
    pub certificate: Option<String>,
    pub keys: Vec<CaKey>,
}

/// One revoked certificate in the CRL.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CrlEntry {
    pub certificate_id: CertificateId,
    pub serial: String,
    pub reason: String,
    pub revoked_at: Timestamp,
}

/// `GET /v1/crl`: the signed JSON CRL.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Crl {
    pub issuer: String,
    /// The signing key's id, `aex-ca-v<version>`.
    pub issuer_id: String,
    pub crl_number: i64,
    pub this_update: Timestamp,
    pub next_update: Timestamp,
    pub entries: Vec<CrlEntry>,
    pub signature_algorithm: String,
    /// Base64 DER ECDSA signature over `signed_json`.
    pub signature: String,
    /// The canonical JSON of the other fields, as signed.
    pub signed_json: String,
}

resource!(
    /// The certificate authority: `client.ca()`.
    CertificateAuthority
);

impl Client {
    /// The certificate authority (certauth).
    pub fn ca(&self) -> CertificateAuthority<'_> {
        CertificateAuthority::new(self)
    }
}

impl CertificateAuthority<'_> {
    /// `GET /.well-known/aex-ca.json` (public).
    pub async fn well_known(&self) -> Result<CaDocument> {
        self.call(Method::GET, &[".well-known", "aex-ca.json"]).anonymous().send().await
    }

    /// `GET /v1/crl` (public).
    pub async fn crl(&self) -> Result<Crl> {
        self.call(Method::GET, &["v1", "crl"]).anonymous().send().await
    }

    /// `GET /v1/crl.der` (public): the X.509 CRL, DER bytes.
    pub async fn crl_der(&self) -> Result<Vec<u8>> {
        Ok(self.call(Method::GET, &["v1", "crl.der"]).anonymous().send_raw().await?.1)
    }

    /// `POST /v1/ca/keys/rotate` [admin]: a new active key; the old one keeps verifying.
    pub async fn rotate_key(&self) -> Result<CaKey> {
        self.call(Method::POST, &["v1", "ca", "keys", "rotate"]).send().await
    }

    /// `POST /v1/ca/keys/{version}/revoke` [admin]: the version can no longer sign, and what it
    /// signed verifies as `revoked_key`.
    pub async fn revoke_key(&self, version: i32) -> Result<CaKey> {
        self.call(Method::POST, &["v1", "ca", "keys", &version.to_string(), "revoke"]).send().await
    }
}
