//! The CA's key material in memory: each version's private key (opened from its sealed row
//! once, then cached), its certificate and public key. Which version may sign is never cached:
//! status always comes from the database, so every replica agrees after a rotation.

use crate::config::CaArgs;
use crate::domain::ca;
use crate::error::{Error, Result};
use crate::store::ca_keys::{self, CaKeyRow};
use aex_common::keywrap::{self, KeyWrap, KeyWrapError, Protection};
use aex_common::runtime::Environment;
use p256::ecdsa::SigningKey;
use sqlx::PgConnection;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;
use x509_cert::Certificate;
use x509_cert::der::DecodePem;

/// One CA key version, opened.
pub struct CaKey {
    pub version: i32,
    pub signing: SigningKey,
    pub certificate: Certificate,
}

impl std::fmt::Debug for CaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaKey").field("version", &self.version).finish_non_exhaustive()
    }
}

/// Opens and caches CA keys; creates new versions. Cheap to clone.
#[derive(Clone)]
pub struct Keyring {
    inner: Arc<Inner>,
}

struct Inner {
    wrap: Box<dyn KeyWrap>,
    /// Development only: plaintext-flagged keys may be used even with a KEK configured.
    allow_plaintext: bool,
    cache: RwLock<HashMap<i32, Arc<CaKey>>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("protection", &self.inner.wrap.protection()).finish_non_exhaustive()
    }
}

/// What the associated data of a sealed key names: its version.
fn seal_context(version: i32) -> Vec<u8> {
    format!("aex-certauth:ca-key:v{version}").into_bytes()
}

impl Keyring {
    /// The keyring for this configuration: AES-256-GCM with a KEK; without one, development
    /// stores keys unencrypted (loudly) and production refuses to start.
    pub fn from_config(args: &CaArgs, environment: Environment) -> Result<Self, String> {
        let wrap = keywrap::from_config(args.ca_kek.as_ref(), environment, "AEX_CA_KEK")?;
        Ok(Self::new(wrap, environment == Environment::Development))
    }

    pub fn new(wrap: Box<dyn KeyWrap>, allow_plaintext: bool) -> Self {
        Self { inner: Arc::new(Inner { wrap, allow_plaintext, cache: RwLock::new(HashMap::new()) }) }
    }

    /// The opened key of a stored version.
    pub fn material(&self, row: &CaKeyRow) -> Result<Arc<CaKey>> {
        if let Some(key) = self.inner.cache.read().ok().and_then(|cache| cache.get(&row.version).cloned()) {
            return Ok(key);
        }
        let protection = Protection::parse(&row.key_protection)
            .ok_or_else(|| Error::Corrupt(format!("CA key v{} has unknown protection", row.version)))?;
        let mut secret = match protection {
            Protection::DevelopmentPlaintext if self.inner.allow_plaintext => row.sealed_private_key.clone(),
            _ => self.inner.wrap.open(protection, &seal_context(row.version), &row.sealed_private_key)?,
        };
        let signing = ca::key_from_bytes(&secret);
        secret.fill(0);
        let signing = signing.map_err(|_| KeyWrapError::Decrypt)?;
        let certificate = Certificate::from_pem(row.certificate_pem.as_bytes())
            .map_err(|e| Error::Corrupt(format!("CA certificate v{}: {e}", row.version)))?;
        let key = Arc::new(CaKey { version: row.version, signing, certificate });
        if let Ok(mut cache) = self.inner.cache.write() {
            cache.insert(row.version, key.clone());
        }
        Ok(key)
    }

    /// Generates version `version`, seals it and stores it as the active version. The caller
    /// holds the `ca_keys` change lock and has retired the previous active version.
    pub async fn create_version(&self, conn: &mut PgConnection, version: i32) -> Result<CaKeyRow> {
        let signing = ca::generate_key()?;
        let certificate = ca::ca_certificate(&signing, version, SystemTime::now())?;
        let certificate_pem = ca::certificate_pem(&certificate)?;
        let public_key_pem = ca::public_key_pem(signing.verifying_key())?;
        let sealed = self.inner.wrap.seal(&seal_context(version), &signing.to_bytes())?;
        let row = ca_keys::insert_active(
            conn,
            version,
            self.inner.wrap.protection().as_str(),
            &sealed,
            &public_key_pem,
            &certificate_pem,
        )
        .await?;
        tracing::info!(version, protection = self.inner.wrap.protection().as_str(), "created CA key version");
        Ok(row)
    }
}
