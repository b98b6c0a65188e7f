//! Orchestration of the certificate authority: each function is one transaction that
//! changes state and writes its outbox events together.

use crate::SERVICE;
use crate::domain::ca::{self, ISSUER};
use crate::domain::credential::{
    self, CertStatus, Credential, KeyStatus, VerificationFacts, rfc3339, sign_text, whole_seconds,
};
use crate::domain::crl::{CRL_LIFETIME, CrlBody, CrlEntry};
use crate::domain::request::{self, CertificateType, Claim};
use crate::domain::x509::{self, LeafSpec, RevokedEntry};
use crate::error::{Error, Result};
use crate::keyring::Keyring;
use crate::reputation;
use crate::store::ca_keys::{self, CaKeyRow};
use crate::store::certificates::{self, CertificateRow, NewCertificate};
use crate::store::crls::{self, CrlRow};
use crate::store::providers;
use crate::store::reputation as snapshots;
use crate::store::requests::{self, NewRequest, RequestRow};
use aex_common::events::outbox::{self, NewEvent};
use aex_types::{CertRequestId, CertificateId};
use serde::Serialize;
use serde_json::json;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

/// The certificate authority's runtime: its keys and issuance policy.
#[derive(Debug, Clone)]
pub struct Ca {
    pub keyring: Keyring,
    pub validity: time::Duration,
}

/// Who acts: the operator, or a tenant (which sees only what it owns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Admin,
    Tenant(String),
}

impl Actor {
    /// Whether the actor may see or change something owned by `tenant_id`.
    pub fn owns(&self, tenant_id: &str) -> bool {
        match self {
            Actor::Admin => true,
            Actor::Tenant(own) => own == tenant_id,
        }
    }

    pub fn tenant(&self) -> Option<&str> {
        match self {
            Actor::Admin => None,
            Actor::Tenant(tenant) => Some(tenant),
        }
    }
}

fn corrupt(what: &str) -> impl FnOnce(serde_json::Error) -> Error + '_ {
    move |e| Error::Corrupt(format!("{what}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Start-up

/// Creates key version 1 and the first CRL on a fresh schema (once, even with several replicas
/// starting together), then opens every stored key so a wrong or missing KEK stops the start.
pub async fn initialize(pool: &PgPool, ca: &Ca) -> Result<()> {
    let mut tx = pool.begin().await?;
    ca_keys::lock_for_change(&mut tx).await?;
    if ca_keys::count(&mut tx).await? == 0 {
        ca.keyring.create_version(&mut tx, 1).await?;
    }
    if crls::latest_in(&mut tx).await?.is_none() {
        regenerate_crl(&mut tx, ca).await?;
    }
    tx.commit().await?;
    for row in ca_keys::all(pool).await? {
        ca.keyring.material(&row)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Requests

/// A request that passed every check, with the agent's key normalized to SPKI PEM.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    pub provider_id: String,
    pub agent_name: String,
    pub certificate_type: CertificateType,
    pub claims: Vec<Claim>,
    pub public_key_pem: String,
    pub csr_pem: Option<String>,
}

/// Checks names, claims and the key (a bare P-256 key, or a CSR whose signature proves
/// possession). Nothing is stored.
pub fn validate_request(
    provider_id: &str,
    agent_name: &str,
    certificate_type: CertificateType,
    claims: Vec<Claim>,
    public_key_pem: Option<&str>,
    csr_pem: Option<&str>,
) -> Result<ValidRequest> {
    request::validate_provider_id(provider_id)?;
    request::validate_agent_name(agent_name)?;
    request::validate_claims(&claims)?;
    let key = match (public_key_pem, csr_pem) {
        (Some(pem), None) => x509::parse_public_key_pem(pem)?,
        (None, Some(pem)) => x509::verify_csr(pem)?,
        _ => return Err(Error::validation("exactly one of public_key_pem and csr_pem is required")),
    };
    Ok(ValidRequest {
        provider_id: provider_id.to_string(),
        agent_name: agent_name.to_string(),
        certificate_type,
        claims,
        public_key_pem: ca::public_key_pem(&key)?,
        csr_pem: csr_pem.map(|p| p.trim().to_string()),
    })
}

#[derive(Debug, Serialize)]
struct RequestedEvent<'a> {
    request_id: &'a str,
    provider_id: &'a str,
    agent_name: &'a str,
    certificate_type: &'a str,
}

/// Records a PENDING request. The provider belongs to the first tenant that requested for it;
/// any other tenant is told it does not exist.
pub async fn request_certificate(pool: &PgPool, tenant_id: &str, valid: ValidRequest) -> Result<RequestRow> {
    let mut tx = pool.begin().await?;
    let owner = providers::claim_owner(&mut tx, &valid.provider_id, tenant_id).await?;
    if owner != tenant_id {
        return Err(Error::NotFound);
    }
    let id = CertRequestId::new();
    let claims = serde_json::to_value(&valid.claims).map_err(corrupt("claims"))?;
    let row = requests::insert(
        &mut tx,
        NewRequest {
            id: id.as_str(),
            tenant_id,
            provider_id: &valid.provider_id,
            agent_name: &valid.agent_name,
            certificate_type: valid.certificate_type.as_str(),
            claims,
            public_key_pem: &valid.public_key_pem,
            csr_pem: valid.csr_pem.as_deref(),
        },
    )
    .await?;
    let event = RequestedEvent {
        request_id: &row.id,
        provider_id: &row.provider_id,
        agent_name: &row.agent_name,
        certificate_type: &row.certificate_type,
    };
    outbox::enqueue(&mut tx, SERVICE, NewEvent::new("certificate.requested", &event).tenant(tenant_id)).await?;
    tx.commit().await?;
    Ok(row)
}

/// Approves a request and issues its certificate. Concurrent and repeated approvals queue on
/// the request row; all but the first find it APPROVED and answer the same certificate.
pub async fn approve(pool: &PgPool, ca: &Ca, request_id: &str) -> Result<CertificateRow> {
    let mut tx = pool.begin().await?;
    let request = requests::lock(&mut tx, request_id).await?.ok_or(Error::NotFound)?;
    match request.status.as_str() {
        "APPROVED" => {
            let id =
                request.certificate_id.ok_or_else(|| Error::Corrupt("approved request without certificate".into()))?;
            return certificates::get_in(&mut tx, &id)
                .await?
                .ok_or_else(|| Error::Corrupt("approved request's certificate is missing".into()));
        }
        "REJECTED" => return Err(Error::AlreadyDecided("REJECTED")),
        _ => {}
    }
    let claims: Vec<Claim> = serde_json::from_value(request.claims.0.clone()).map_err(corrupt("request claims"))?;
    let certificate_type = CertificateType::parse(&request.certificate_type)
        .ok_or_else(|| Error::Corrupt("request certificate type".into()))?;
    let row = issue(
        &mut tx,
        ca,
        Issue {
            request_id: Some(&request.id),
            tenant_id: &request.tenant_id,
            provider_id: &request.provider_id,
            agent_name: &request.agent_name,
            certificate_type,
            claims: &claims,
            public_key_pem: &request.public_key_pem,
            previous: None,
        },
    )
    .await?;
    requests::mark_approved(&mut tx, &request.id, &row.id).await?;
    outbox::enqueue(
        &mut tx,
        SERVICE,
        NewEvent::new("certificate.issued", &IssuedEvent::of(&row)).tenant(&row.tenant_id),
    )
    .await?;
    // The new certificate's boost counts from the moment it exists.
    reputation::recompute(&mut tx, &row.provider_id).await?;
    tx.commit().await?;
    Ok(row)
}

/// Rejects a PENDING request (a repeated rejection answers the same request).
pub async fn reject(pool: &PgPool, request_id: &str, reason: Option<&str>) -> Result<RequestRow> {
    let mut tx = pool.begin().await?;
    let request = requests::lock(&mut tx, request_id).await?.ok_or(Error::NotFound)?;
    let row = match request.status.as_str() {
        "REJECTED" => request,
        "APPROVED" => return Err(Error::AlreadyDecided("APPROVED")),
        _ => requests::mark_rejected(&mut tx, request_id, reason).await?,
    };
    tx.commit().await?;
    Ok(row)
}

// ---------------------------------------------------------------------------------------------
// Issuance

struct Issue<'a> {
    request_id: Option<&'a str>,
    tenant_id: &'a str,
    provider_id: &'a str,
    agent_name: &'a str,
    certificate_type: CertificateType,
    claims: &'a [Claim],
    public_key_pem: &'a str,
    /// The certificate this one renews, and the new renewal count.
    previous: Option<(&'a str, i32)>,
}

#[derive(Debug, Serialize)]
struct IssuedEvent<'a> {
    certificate_id: &'a str,
    request_id: Option<&'a str>,
    provider_id: &'a str,
    certificate_type: &'a str,
    key_version: i32,
    serial: &'a str,
    fingerprint: &'a str,
    not_before: String,
    not_after: String,
}

impl<'a> IssuedEvent<'a> {
    fn of(row: &'a CertificateRow) -> Self {
        Self {
            certificate_id: &row.id,
            request_id: row.request_id.as_deref(),
            provider_id: &row.provider_id,
            certificate_type: &row.certificate_type,
            key_version: row.key_version,
            serial: &row.serial,
            fingerprint: &row.fingerprint,
            not_before: rfc3339(row.not_before),
            not_after: rfc3339(row.not_after),
        }
    }
}

/// Signs the credential and the X.509 leaf with the active CA version (held `FOR SHARE` so it
/// cannot be rotated or revoked mid-issue) and stores the certificate.
async fn issue(conn: &mut PgConnection, ca: &Ca, input: Issue<'_>) -> Result<CertificateRow> {
    let agent_key = x509::parse_public_key_pem(input.public_key_pem)
        .map_err(|_| Error::Corrupt("stored agent public key".into()))?;
    let key_row = ca_keys::active_for_signing(conn).await?.ok_or(Error::NoActiveKey)?;
    let key = ca.keyring.material(&key_row)?;
    let id = CertificateId::new();
    let (serial, _) = ca::random_serial()?;
    let serial_hex = hex::encode(serial.as_bytes());
    // The database's clock, as of this transaction: the reputation recompute in the same
    // transaction counts certificates with `not_before <= now()`, which must include this one.
    let db_now: OffsetDateTime = sqlx::query_scalar("SELECT now()").fetch_one(&mut *conn).await?;
    let issued_at = whole_seconds(db_now);
    let not_after = issued_at + ca.validity;
    let credential = Credential {
        certificate_id: id.to_string(),
        certificate_type: input.certificate_type,
        provider_id: input.provider_id.to_string(),
        agent_name: input.agent_name.to_string(),
        claims: input.claims.to_vec(),
        subject_key_sha256: x509::subject_key_sha256(&agent_key)?,
        serial: serial_hex.clone(),
        issuer: ISSUER.to_string(),
        key_id: ca::key_id(key_row.version),
        key_version: key_row.version,
        issued_at: rfc3339(issued_at),
        not_before: rfc3339(issued_at),
        not_after: rfc3339(not_after),
        previous_cert_id: input.previous.map(|(id, _)| id.to_string()),
        renewal_count: input.previous.map_or(0, |(_, count)| count),
    };
    let canonical = credential.canonical();
    let (signature, fingerprint) = credential.sign(&key.signing);
    let claims_json = credential.claims_extension_json();
    let leaf = x509::build_leaf(
        &key.certificate,
        &key.signing,
        &agent_key,
        &LeafSpec {
            serial,
            agent_name: input.agent_name,
            provider_id: input.provider_id,
            not_before: issued_at.into(),
            not_after: not_after.into(),
            claims_json: &claims_json,
        },
    )?;
    let x509_pem = x509::to_pem(&leaf)?;
    let row = certificates::insert(
        conn,
        NewCertificate {
            id: id.as_str(),
            request_id: input.request_id,
            tenant_id: input.tenant_id,
            provider_id: input.provider_id,
            agent_name: input.agent_name,
            certificate_type: input.certificate_type.as_str(),
            claims: serde_json::to_value(input.claims).map_err(corrupt("claims"))?,
            public_key_pem: input.public_key_pem,
            serial: &serial_hex,
            key_version: key_row.version,
            not_before: issued_at,
            not_after,
            credential: &canonical,
            signature: &signature,
            fingerprint: &fingerprint,
            x509_pem: &x509_pem,
            previous_cert_id: input.previous.map(|(id, _)| id),
            renewal_count: credential.renewal_count,
        },
    )
    .await?;
    Ok(row)
}

/// The certificate `id` if `actor` may see it; another tenant's is "not found".
pub async fn visible_certificate(pool: &PgPool, actor: &Actor, id: &str) -> Result<CertificateRow> {
    match certificates::get(pool, id).await? {
        Some(row) if actor.owns(&row.tenant_id) => Ok(row),
        _ => Err(Error::NotFound),
    }
}

/// Issues a new certificate for the same key and claims; the old one becomes SUPERSEDED.
pub async fn renew(pool: &PgPool, ca: &Ca, actor: &Actor, id: &str) -> Result<CertificateRow> {
    let mut tx = pool.begin().await?;
    let old = match certificates::lock(&mut tx, id).await? {
        Some(row) if actor.owns(&row.tenant_id) => row,
        _ => return Err(Error::NotFound),
    };
    let status = CertStatus::parse(&old.status).ok_or_else(|| Error::Corrupt("certificate status".into()))?;
    if status != CertStatus::Active {
        return Err(Error::NotActive(status.as_str()));
    }
    let claims: Vec<Claim> = serde_json::from_value(old.claims.0.clone()).map_err(corrupt("certificate claims"))?;
    let certificate_type =
        CertificateType::parse(&old.certificate_type).ok_or_else(|| Error::Corrupt("certificate type".into()))?;
    let renewal_count = old.renewal_count.saturating_add(1);
    let row = issue(
        &mut tx,
        ca,
        Issue {
            request_id: None,
            tenant_id: &old.tenant_id,
            provider_id: &old.provider_id,
            agent_name: &old.agent_name,
            certificate_type,
            claims: &claims,
            public_key_pem: &old.public_key_pem,
            previous: Some((&old.id, renewal_count)),
        },
    )
    .await?;
    certificates::supersede(&mut tx, &old.id).await?;
    let event = json!({
        "certificate_id": row.id,
        "previous_cert_id": old.id,
        "renewal_count": row.renewal_count,
        "provider_id": row.provider_id,
        "key_version": row.key_version,
        "not_after": rfc3339(row.not_after),
    });
    outbox::enqueue(&mut tx, SERVICE, NewEvent::new("certificate.renewed", &event).tenant(&row.tenant_id)).await?;
    reputation::recompute(&mut tx, &row.provider_id).await?;
    tx.commit().await?;
    Ok(row)
}

// ---------------------------------------------------------------------------------------------
// Revocation and the CRL

/// Revokes a certificate and, in the same transaction, publishes a new CRL listing it.
/// Revoking a revoked certificate changes nothing.
pub async fn revoke_certificate(pool: &PgPool, ca: &Ca, actor: &Actor, id: &str, reason: &str) -> Result<()> {
    let mut tx = pool.begin().await?;
    let row = match certificates::lock(&mut tx, id).await? {
        Some(row) if actor.owns(&row.tenant_id) => row,
        _ => return Err(Error::NotFound),
    };
    if row.status == CertStatus::Revoked.as_str() {
        return Ok(());
    }
    certificates::revoke(&mut tx, id, reason).await?;
    let event = json!({
        "certificate_id": row.id,
        "provider_id": row.provider_id,
        "serial": row.serial,
        "reason": reason,
        "revoked_at": rfc3339(OffsetDateTime::now_utc()),
    });
    outbox::enqueue(&mut tx, SERVICE, NewEvent::new("certificate.revoked", &event).tenant(&row.tenant_id)).await?;
    regenerate_crl(&mut tx, ca).await?;
    // The revoked certificate's boost disappears in the same commit as the revocation.
    reputation::recompute(&mut tx, &row.provider_id).await?;
    tx.commit().await?;
    Ok(())
}

/// Re-signs the CRL when less than `margin` of its validity is left (or there is none).
/// Returns whether a new CRL was issued.
pub async fn refresh_crl_if_due(pool: &PgPool, ca: &Ca, margin: time::Duration) -> Result<bool> {
    let mut tx = pool.begin().await?;
    crls::lock_for_new(&mut tx).await?;
    let due = match crls::latest_in(&mut tx).await? {
        Some(latest) => latest.next_update - OffsetDateTime::now_utc() <= margin,
        None => true,
    };
    if due {
        regenerate_crl(&mut tx, ca).await?;
    }
    tx.commit().await?;
    Ok(due)
}

/// Checks the CRL every `interval` until `shutdown`, re-signing it a day before it lapses.
pub async fn refresh_crl_periodically(
    pool: PgPool,
    ca: Ca,
    interval: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    tracing::info!(task = "crl-refresher", "started");
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {},
        }
        match refresh_crl_if_due(&pool, &ca, time::Duration::days(1)).await {
            Ok(true) => tracing::info!(task = "crl-refresher", "CRL re-signed before it lapsed"),
            Ok(false) => {}
            Err(error) => tracing::warn!(task = "crl-refresher", %error, "CRL refresh failed"),
        }
    }
    tracing::info!(task = "crl-refresher", "stopped");
}

/// Signs and stores the next CRL (JSON and X.509 DER) with the active key, listing every
/// revoked certificate, and records `crl.updated`.
async fn regenerate_crl(conn: &mut PgConnection, ca: &Ca) -> Result<CrlRow> {
    let key_row = ca_keys::active_for_signing(conn).await?.ok_or(Error::NoActiveKey)?;
    let key = ca.keyring.material(&key_row)?;
    let number = crls::lock_for_new(conn).await?;
    let revoked = certificates::revoked(conn).await?;
    let this_update = whole_seconds(OffsetDateTime::now_utc());
    let next_update = this_update + CRL_LIFETIME;
    let entries: Vec<CrlEntry> = revoked
        .iter()
        .map(|r| CrlEntry {
            certificate_id: r.id.clone(),
            serial: r.serial.clone(),
            revoked_at: rfc3339(r.revoked_at),
            reason: r.revocation_reason.clone().unwrap_or_else(|| "unspecified".to_string()),
        })
        .collect();
    let issuer_id = ca::key_id(key_row.version);
    let (this_text, next_text) = (rfc3339(this_update), rfc3339(next_update));
    let body = CrlBody {
        issuer: ISSUER,
        issuer_id: &issuer_id,
        crl_number: number,
        this_update: &this_text,
        next_update: &next_text,
        entries: &entries,
    };
    let signed_json = body.canonical();
    let signature = sign_text(&signed_json, &key.signing);
    let mut x509_entries = Vec::with_capacity(revoked.len());
    for r in &revoked {
        let serial = hex::decode(&r.serial).map_err(|_| Error::Corrupt(format!("serial of {}", r.id)))?;
        x509_entries.push(RevokedEntry { serial, revoked_at: whole_seconds(r.revoked_at).into() });
    }
    let crl_number = u64::try_from(number).map_err(|_| Error::Corrupt("CRL number".into()))?;
    let der = x509::build_crl(
        &key.certificate,
        &key.signing,
        crl_number,
        this_update.into(),
        next_update.into(),
        &x509_entries,
    )?;
    let row = CrlRow {
        crl_number: number,
        key_version: key_row.version,
        this_update,
        next_update,
        entries: Json(serde_json::to_value(&entries).map_err(corrupt("CRL entries"))?),
        signed_json,
        signature,
        der,
    };
    crls::insert(conn, &row).await?;
    let event = json!({
        "crl_number": number,
        "issuer_id": issuer_id,
        "this_update": this_text,
        "next_update": next_text,
        "revoked_count": entries.len(),
    });
    outbox::enqueue(conn, SERVICE, NewEvent::new("crl.updated", &event)).await?;
    Ok(row)
}

// ---------------------------------------------------------------------------------------------
// Key versions

/// Makes a new signing version; the old one is retired (verifies, no longer signs). The CRL
/// is re-signed by the new version.
pub async fn rotate_key(pool: &PgPool, ca: &Ca) -> Result<CaKeyRow> {
    let mut tx = pool.begin().await?;
    ca_keys::lock_for_change(&mut tx).await?;
    let version = ca_keys::next_version(&mut tx).await?;
    ca_keys::retire_active(&mut tx).await?;
    let row = ca.keyring.create_version(&mut tx, version).await?;
    regenerate_crl(&mut tx, ca).await?;
    tx.commit().await?;
    Ok(row)
}

/// Revokes a key version: it never signs again and its certificates verify as `revoked_key`.
/// Revoking the active version rotates to a fresh one in the same transaction, so the CA can
/// keep issuing. Revoking a revoked version changes nothing.
pub async fn revoke_key(pool: &PgPool, ca: &Ca, version: i32) -> Result<()> {
    let mut tx = pool.begin().await?;
    ca_keys::lock_for_change(&mut tx).await?;
    let previous = ca_keys::revoke(&mut tx, version).await?.ok_or(Error::NotFound)?;
    match previous.as_str() {
        "revoked" => return Ok(()),
        "active" => {
            let next = ca_keys::next_version(&mut tx).await?;
            ca.keyring.create_version(&mut tx, next).await?;
        }
        _ => {}
    }
    regenerate_crl(&mut tx, ca).await?;
    // Certificates signed by a revoked version no longer verify, so they no longer count.
    for provider_id in snapshots::providers_certified_by_key(&mut tx, version).await? {
        reputation::recompute(&mut tx, &provider_id).await?;
    }
    tx.commit().await?;
    tracing::warn!(version, "CA key version revoked");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Verification

/// The verdict on one certificate.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verdict {
    pub valid: bool,
    pub certificate_id: Option<String>,
    pub provider_id: Option<String>,
    pub status: Option<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub reason: Option<&'static str>,
    pub errors: Vec<&'static str>,
}

impl Verdict {
    fn refused(certificate_id: Option<String>, reason: &'static str) -> Self {
        Self {
            valid: false,
            certificate_id,
            provider_id: None,
            status: None,
            not_before: None,
            not_after: None,
            reason: Some(reason),
            errors: vec![reason],
        }
    }
}

/// Verifies the stored certificate `id` (its stored signature too, so an edited row fails).
pub async fn verify_by_id(pool: &PgPool, ca: &Ca, id: &str) -> Result<Verdict> {
    let Some(row) = certificates::get(pool, id).await? else {
        return Ok(Verdict::refused(Some(id.to_string()), "unknown_certificate"));
    };
    let credential: Credential = serde_json::from_str(&row.credential).map_err(corrupt("stored credential"))?;
    evaluate(pool, ca, &credential, &row.signature, &row).await
}

/// The signed credential as a client presents it: its fields plus `signature`.
#[derive(Debug, serde::Deserialize)]
struct Presented {
    #[serde(flatten)]
    credential: Credential,
    signature: String,
}

/// Verifies a credential a client presents: its signature with the key version it names, and
/// the record's revocation state and validity.
pub async fn verify_presented(pool: &PgPool, ca: &Ca, presented: serde_json::Value) -> Result<Verdict> {
    let Ok(Presented { credential, signature }) = serde_json::from_value::<Presented>(presented) else {
        return Ok(Verdict::refused(None, "malformed_certificate"));
    };
    let Some(row) = certificates::get(pool, &credential.certificate_id).await? else {
        return Ok(Verdict::refused(Some(credential.certificate_id), "unknown_certificate"));
    };
    evaluate(pool, ca, &credential, &signature, &row).await
}

async fn evaluate(
    pool: &PgPool,
    ca: &Ca,
    credential: &Credential,
    signature: &str,
    row: &CertificateRow,
) -> Result<Verdict> {
    let Some(key_row) = ca_keys::get(pool, credential.key_version).await? else {
        return Ok(Verdict::refused(Some(credential.certificate_id.clone()), "unknown_key"));
    };
    let key = ca.keyring.material(&key_row)?;
    let key_status = KeyStatus::parse(&key_row.status).ok_or_else(|| Error::Corrupt("key status".into()))?;
    let status = CertStatus::parse(&row.status).ok_or_else(|| Error::Corrupt("certificate status".into()))?;
    let facts = VerificationFacts {
        credential,
        signature_valid: credential.signature_valid(signature, key.signing.verifying_key()),
        matches_record: row.credential == credential.canonical(),
        key_status,
        status,
        now: OffsetDateTime::now_utc(),
    };
    let errors = credential::verification_errors(&facts);
    Ok(Verdict {
        valid: errors.is_empty(),
        certificate_id: Some(row.id.clone()),
        provider_id: Some(row.provider_id.clone()),
        status: Some(row.status.clone()),
        not_before: Some(rfc3339(row.not_before)),
        not_after: Some(rfc3339(row.not_after)),
        reason: errors.first().copied(),
        errors,
    })
}

/// The provider's currently valid certificates whose claims grant `capability` in `category`.
pub async fn certificates_granting(
    pool: &PgPool,
    provider_id: &str,
    category: &str,
    capability: &str,
) -> Result<Vec<CertificateRow>> {
    let rows = certificates::currently_active_for_provider(pool, provider_id).await?;
    let versions: Vec<i32> = rows.iter().map(|r| r.key_version).collect();
    let revoked_keys: Vec<i32> = ca_keys::statuses(pool, &versions)
        .await?
        .into_iter()
        .filter(|(_, status)| status == KeyStatus::Revoked.as_str())
        .map(|(version, _)| version)
        .collect();
    Ok(rows
        .into_iter()
        .filter(|row| !revoked_keys.contains(&row.key_version))
        .filter(|row| {
            serde_json::from_value::<Vec<Claim>>(row.claims.0.clone())
                .map(|claims| claims.iter().any(|c| request::grants(c, category, capability)))
                .unwrap_or(false)
        })
        .collect())
}
