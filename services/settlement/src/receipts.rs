//! The receipt signing key in memory, and receipt issuance. The key is generated once (first
//! start of any replica, under an advisory lock), stored sealed by `aex_common::keywrap`, and
//! opened at every start, so receipts issued before a restart still verify after it.
//!
//! Rotation (`POST /v1/receipts/keys/rotate`) retires the active version and creates the next
//! under the same lock; retired versions stay published, so every receipt keeps verifying.
//! Other replicas pick the new version up within [`KEY_REFRESH`]; until then they may still
//! sign with the retired one, which verifies as well.

use crate::domain::receipt::{self, ReceiptFields};
use crate::store::receipts::{self, ReceiptRow, SigningKeyRow};
use crate::store::settlements::SettlementRow;
use aex_common::keywrap::{KeyWrap, Protection};
use aex_types::{Money, Timestamp};
use p256::ecdsa::SigningKey;
use p256::pkcs8::{EncodePublicKey, LineEnding};
use sqlx::PgPool;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a replica checks for a key rotated elsewhere.
pub const KEY_REFRESH: Duration = Duration::from_secs(10);

/// Who signs receipts.
pub const ISSUER: &str = "aex-settlement";

/// The opened active signing key, replaced in place on rotation. Cheap to clone.
#[derive(Clone)]
pub struct ReceiptSigner {
    active: Arc<RwLock<Arc<Opened>>>,
    wrap: Arc<dyn KeyWrap>,
    allow_plaintext: bool,
}

struct Opened {
    version: i32,
    key: SigningKey,
    public_key_pem: String,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner").field("version", &self.version()).finish_non_exhaustive()
    }
}

fn seal_context(version: i32) -> Vec<u8> {
    format!("aex-settlement:receipt-key:v{version}").into_bytes()
}

/// A new key of `version`, sealed for storage.
fn generate(version: i32, wrap: &dyn KeyWrap) -> Result<SigningKeyRow, String> {
    let key = receipt::generate_key().ok_or("the OS random number generator failed")?;
    let public_key_pem =
        key.verifying_key().to_public_key_pem(LineEnding::LF).map_err(|e| format!("receipt key: {e}"))?;
    let mut secret = key.to_bytes().to_vec();
    let sealed = wrap.seal(&seal_context(version), &secret).map_err(|e| e.to_string());
    secret.fill(0);
    Ok(SigningKeyRow {
        version,
        public_key_pem,
        sealed_private_key: sealed?,
        key_protection: wrap.protection().as_str().to_string(),
        status: "active".into(),
    })
}

fn open(row: SigningKeyRow, wrap: &dyn KeyWrap, allow_plaintext: bool) -> Result<Opened, String> {
    let protection = Protection::parse(&row.key_protection).ok_or("receipt key: unknown protection")?;
    let mut secret = match protection {
        Protection::DevelopmentPlaintext if allow_plaintext => row.sealed_private_key.clone(),
        _ => wrap.open(protection, &seal_context(row.version), &row.sealed_private_key).map_err(|e| e.to_string())?,
    };
    let key = SigningKey::from_slice(&secret);
    secret.fill(0);
    let key = key.map_err(|_| "receipt key: invalid key material".to_string())?;
    Ok(Opened { version: row.version, key, public_key_pem: row.public_key_pem })
}

impl ReceiptSigner {
    /// Opens the active key, creating version 1 on the very first start.
    pub async fn load_or_create(pool: &PgPool, wrap: Arc<dyn KeyWrap>, allow_plaintext: bool) -> Result<Self, String> {
        let database = |e: sqlx::Error| format!("receipt key: {e}");
        let mut tx = pool.begin().await.map_err(database)?;
        receipts::lock_key_creation(&mut tx).await.map_err(database)?;
        let row = match receipts::active_key(&mut tx).await.map_err(database)? {
            Some(row) => row,
            None => {
                let row = generate(1, wrap.as_ref())?;
                receipts::insert_key(&mut tx, &row).await.map_err(database)?;
                tracing::info!(version = 1, protection = %row.key_protection, "receipt signing key created");
                row
            }
        };
        tx.commit().await.map_err(database)?;
        let opened = open(row, wrap.as_ref(), allow_plaintext)?;
        Ok(Self { active: Arc::new(RwLock::new(Arc::new(opened))), wrap, allow_plaintext })
    }

    fn current(&self) -> Arc<Opened> {
        match self.active.read() {
            Ok(active) => active.clone(),
            // A panic while swapping cannot leave a half-written Arc: the old one is still whole.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn install(&self, opened: Opened) {
        let opened = Arc::new(opened);
        match self.active.write() {
            Ok(mut active) => *active = opened,
            Err(poisoned) => *poisoned.into_inner() = opened,
        }
    }

    pub fn version(&self) -> i32 {
        self.current().version
    }

    pub fn public_key_pem(&self) -> String {
        self.current().public_key_pem.clone()
    }

    /// Retires the active version and signs with a new one from now on; returns the new version.
    pub async fn rotate(&self, pool: &PgPool) -> Result<i32, RotateError> {
        let mut tx = pool.begin().await?;
        receipts::lock_key_creation(&mut tx).await?;
        let current = receipts::active_key(&mut tx).await?.map(|row| row.version).unwrap_or(0);
        receipts::retire_active(&mut tx).await?;
        let row = generate(current + 1, self.wrap.as_ref()).map_err(RotateError::Key)?;
        receipts::insert_key(&mut tx, &row).await?;
        let opened = open(row, self.wrap.as_ref(), self.allow_plaintext).map_err(RotateError::Key)?;
        tx.commit().await?;
        let version = opened.version;
        self.install(opened);
        tracing::info!(version, retired = current, "receipt signing key rotated");
        Ok(version)
    }

    /// Takes up a version rotated by another replica; true when the key changed.
    pub async fn refresh(&self, pool: &PgPool) -> Result<bool, String> {
        let database = |e: sqlx::Error| format!("receipt key: {e}");
        let mut conn = pool.acquire().await.map_err(database)?;
        let Some(row) = receipts::active_key(&mut conn).await.map_err(database)? else { return Ok(false) };
        if row.version == self.version() {
            return Ok(false);
        }
        let opened = open(row, self.wrap.as_ref(), self.allow_plaintext)?;
        tracing::info!(version = opened.version, "receipt signing key taken up from another replica");
        self.install(opened);
        Ok(true)
    }

    /// Stamps `fields` with the active key's `key_version` and signs them (canonical form) with
    /// that same key; returns the version and the signature.
    pub fn sign_fields(&self, fields: &mut ReceiptFields) -> (i32, String) {
        let active = self.current();
        fields.insert("key_version".into(), active.version.to_string());
        (active.version, receipt::sign(fields, &active.key))
    }

    /// The receipt of a settled deal, signed. `journal_hash` is the hex hash of the link that
    /// recorded the payout.
    pub fn issue(&self, row: &SettlementRow, journal_hash: &str) -> ReceiptRow {
        let active = self.current();
        let currency = row.currency;
        let text = |minor: Option<i64>| minor.map(|m| m.to_string()).unwrap_or_default();
        let decimal = |minor: i64| Money::from_minor(minor, currency).to_decimal_string();
        let time = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
        let mut fields = ReceiptFields::new();
        let mut put = |key: &str, value: String| {
            fields.insert(key.to_string(), value);
        };
        put("issuer", ISSUER.to_string());
        put("algorithm", receipt::ALGORITHM.to_string());
        put("key_version", active.version.to_string());
        put("contract_id", row.contract_id.clone());
        put("work_id", row.work_id.clone().unwrap_or_default());
        put("consumer_tenant_id", row.consumer_tenant_id.clone());
        put("provider_tenant_id", row.provider_tenant_id.clone());
        put("provider_id", row.provider_id.clone());
        put("currency", currency.code().to_string());
        put("price", decimal(row.price_minor));
        put("price_minor", row.price_minor.to_string());
        put("platform_fee_minor", text(row.platform_fee_minor));
        put("protocol_fee_minor", text(row.protocol_fee_minor));
        put("payout_minor", text(row.payout_minor));
        put("tier", row.tier.clone().unwrap_or_default());
        put("fee_policy_version", row.fee_policy_version.clone().unwrap_or_default());
        put("journal_seq", text(row.journal_seq));
        put("journal_hash", journal_hash.to_string());
        put("settled_at", time(row.settled_at));
        put("issued_at", Timestamp::now().to_string());
        let signature = receipt::sign(&fields, &active.key);
        ReceiptRow {
            contract_id: row.contract_id.clone(),
            body: receipt::canonical(&fields),
            signature,
            key_version: active.version,
        }
    }
}

/// Why a rotation failed; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Key(String),
}

/// Checks every [`KEY_REFRESH`] for a key rotated by another replica, until `shutdown`.
pub async fn refresh_key_periodically(pool: PgPool, signer: ReceiptSigner, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(KEY_REFRESH) => {}
        }
        if let Err(error) = signer.refresh(&pool).await {
            tracing::warn!(task = "receipt-key-refresh", %error, "checking the receipt key failed");
        }
    }
}

/// Signs the journal head when it moved since the last signature, every `interval`, until
/// `shutdown`; the signature covers `{issuer, key_version, seq, hash, signed_at}`.
pub async fn sign_journal_head_periodically(
    pool: PgPool,
    signer: ReceiptSigner,
    interval: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    tracing::info!(task = "journal-head-signer", "started");
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {},
        }
        if let Err(error) = sign_journal_head(&pool, &signer).await {
            tracing::warn!(task = "journal-head-signer", %error, "could not sign the journal head");
        }
    }
    tracing::info!(task = "journal-head-signer", "stopped");
}

/// Signs the current head unless it is already signed.
pub async fn sign_journal_head(pool: &PgPool, signer: &ReceiptSigner) -> Result<(), sqlx::Error> {
    let (seq, hash) = crate::store::journal::head(pool).await?;
    let latest = crate::store::journal::latest_signed_head(pool).await?;
    if seq == 0 || latest.is_some_and(|l| l.seq >= seq) {
        return Ok(());
    }
    let mut fields = ReceiptFields::new();
    fields.insert("issuer".into(), ISSUER.to_string());
    fields.insert("seq".into(), seq.to_string());
    fields.insert("hash".into(), hex::encode(&hash));
    fields.insert("signed_at".into(), Timestamp::now().to_string());
    let (key_version, signature) = signer.sign_fields(&mut fields);
    let head =
        crate::store::journal::SignedHead { seq, hash, body: receipt::canonical(&fields), signature, key_version };
    crate::store::journal::insert_signed_head(pool, &head).await?;
    metrics::gauge!("aex_journal_signed_head_seq").set(seq as f64);
    Ok(())
}
