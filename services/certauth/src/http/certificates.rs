//! Certificates: `GET /v1/certificates/{id}`, `DELETE /v1/certificates/{id}` (revoke),
//! `POST /v1/certificates/{id}/renew`, `POST /v1/certificates/verify` (public),
//! `GET /v1/certificates/search`, `GET /v1/providers/{id}/certificates`, and the AEX-compatible
//! `POST /internal/v1/certificates/batch-verify` and `GET /internal/v1/providers/{id}/can-perform`.

use super::requests::optional_body;
use super::{actor, require_internal};
use crate::AppState;
use crate::domain::ca::ALGORITHM;
use crate::domain::credential::{CertStatus, rfc3339};
use crate::domain::request::CertificateType;
use crate::error::{Error, Result};
use crate::service::{self, Actor, Verdict};
use crate::store::certificates::{self, CertificateRow, Search};
use aex_common::auth::Principal;
use aex_common::server::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Serialize)]
pub struct CertificateView {
    pub certificate_id: String,
    pub request_id: Option<String>,
    pub provider_id: String,
    pub agent_name: String,
    pub certificate_type: String,
    pub status: String,
    pub claims: Value,
    pub key_version: i32,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub issued_at: String,
    /// The signed credential: its fields plus `signature`, `signature_algorithm`, `fingerprint`.
    pub certificate: Value,
    pub signature: String,
    pub fingerprint: String,
    pub x509_pem: String,
    pub previous_cert_id: Option<String>,
    pub renewal_count: i32,
    pub revoked_at: Option<String>,
    pub revocation_reason: Option<String>,
}

impl CertificateView {
    pub fn from_row(row: CertificateRow) -> Result<Self> {
        let mut credential: Map<String, Value> = serde_json::from_str(&row.credential)
            .map_err(|e| Error::Corrupt(format!("stored credential {}: {e}", row.id)))?;
        credential.insert("signature".into(), Value::String(row.signature.clone()));
        credential.insert("signature_algorithm".into(), Value::String(ALGORITHM.into()));
        credential.insert("fingerprint".into(), Value::String(row.fingerprint.clone()));
        Ok(Self {
            certificate_id: row.id,
            request_id: row.request_id,
            provider_id: row.provider_id,
            agent_name: row.agent_name,
            certificate_type: row.certificate_type,
            status: row.status,
            claims: row.claims.0,
            key_version: row.key_version,
            serial: row.serial,
            not_before: rfc3339(row.not_before),
            not_after: rfc3339(row.not_after),
            issued_at: rfc3339(row.created_at),
            certificate: Value::Object(credential),
            signature: row.signature,
            fingerprint: row.fingerprint,
            x509_pem: row.x509_pem,
            previous_cert_id: row.previous_cert_id,
            renewal_count: row.renewal_count,
            revoked_at: row.revoked_at.map(rfc3339),
            revocation_reason: row.revocation_reason,
        })
    }
}

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<CertificateView>> {
    let actor = actor(&principal, false)?;
    let row = service::visible_certificate(&state.pool, &actor, &id).await?;
    Ok(Json(CertificateView::from_row(row)?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    pub reason: Option<String>,
}

pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>> {
    let actor = actor(&principal, true)?;
    let body: RevokeBody = optional_body(&body)?;
    let reason = body.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).unwrap_or("unspecified");
    if reason.len() > 512 || reason.chars().any(char::is_control) {
        return Err(Error::validation("reason must be at most 512 characters without control characters"));
    }
    service::revoke_certificate(&state.pool, &state.ca, &actor, &id, reason).await?;
    Ok(Json(serde_json::json!({ "status": "revoked", "certificate_id": id })))
}

pub async fn renew(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<(axum::http::StatusCode, Json<CertificateView>)> {
    let actor = actor(&principal, true)?;
    let row = service::renew(&state.pool, &state.ca, &actor, &id).await?;
    Ok((axum::http::StatusCode::CREATED, Json(CertificateView::from_row(row)?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    pub certificate_id: Option<String>,
    pub certificate: Option<Value>,
}

/// Public: a verdict on a certificate id or a presented signed credential.
pub async fn verify(State(state): State<AppState>, Json(body): Json<VerifyBody>) -> Result<Json<Verdict>> {
    let verdict = match (body.certificate_id, body.certificate) {
        (Some(id), None) if id.len() <= 128 => service::verify_by_id(&state.pool, &state.ca, &id).await?,
        (Some(_), None) => return Err(Error::validation("certificate_id is too long")),
        (None, Some(certificate)) => service::verify_presented(&state.pool, &state.ca, certificate).await?,
        _ => return Err(Error::validation("exactly one of certificate_id and certificate is required")),
    };
    Ok(Json(verdict))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchVerifyBody {
    #[serde(default)]
    pub certificate_ids: Vec<String>,
    #[serde(default)]
    pub certificates: Vec<Value>,
}

#[derive(Debug, Serialize)]
pub struct BatchVerdict {
    pub results: Vec<Verdict>,
    pub total: usize,
    pub valid_count: usize,
}

pub const MAX_BATCH: usize = 100;

pub async fn batch_verify(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<BatchVerifyBody>,
) -> Result<Json<BatchVerdict>> {
    require_internal(&principal)?;
    let total = body.certificate_ids.len() + body.certificates.len();
    if total == 0 || total > MAX_BATCH {
        return Err(Error::validation(format!("a batch holds 1 to {MAX_BATCH} certificates")));
    }
    let mut results = Vec::with_capacity(total);
    for id in &body.certificate_ids {
        results.push(service::verify_by_id(&state.pool, &state.ca, id).await?);
    }
    for certificate in body.certificates {
        results.push(service::verify_presented(&state.pool, &state.ca, certificate).await?);
    }
    let valid_count = results.iter().filter(|v| v.valid).count();
    Ok(Json(BatchVerdict { results, total, valid_count }))
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    pub provider_id: Option<String>,
    pub certificate_type: Option<String>,
    pub status: Option<String>,
    pub category: Option<String>,
    pub capability: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct CertificateList {
    pub certificates: Vec<CertificateView>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

async fn run_search(state: &AppState, actor: &Actor, query: SearchQuery) -> Result<CertificateList> {
    let limit = query.limit.unwrap_or(50);
    let offset = query.offset.unwrap_or(0);
    if !(1..=100).contains(&limit) {
        return Err(Error::validation("limit must be between 1 and 100"));
    }
    if offset < 0 {
        return Err(Error::validation("offset must not be negative"));
    }
    if let Some(t) = &query.certificate_type
        && CertificateType::parse(t).is_none()
    {
        return Err(Error::validation("certificate_type must be CAPABILITY, IDENTITY, REPUTATION or RESELLER"));
    }
    if let Some(s) = &query.status
        && CertStatus::parse(s).is_none()
    {
        return Err(Error::validation("status must be ACTIVE, REVOKED, SUPERSEDED or SUSPENDED"));
    }
    let mut claim = Map::new();
    if let Some(category) = query.category {
        claim.insert("category".into(), Value::String(category));
    }
    if let Some(capability) = query.capability {
        claim.insert("capability".into(), Value::String(capability));
    }
    let claims_filter = if claim.is_empty() { Value::Array(vec![]) } else { Value::Array(vec![Value::Object(claim)]) };
    let search = Search {
        tenant_id: actor.tenant(),
        provider_id: query.provider_id.as_deref(),
        certificate_type: query.certificate_type.as_deref(),
        status: query.status.as_deref(),
        claims_filter,
        limit,
        offset,
    };
    let (rows, total) = certificates::search(&state.pool, &search).await?;
    let certificates = rows.into_iter().map(CertificateView::from_row).collect::<Result<Vec<_>>>()?;
    Ok(CertificateList { certificates, total, limit, offset })
}

pub async fn search(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<SearchQuery>,
) -> Result<Json<CertificateList>> {
    let actor = actor(&principal, false)?;
    Ok(Json(run_search(&state, &actor, query).await?))
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

pub async fn for_provider(
    State(state): State<AppState>,
    principal: Principal,
    Path(provider_id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<CertificateList>> {
    let actor = actor(&principal, false)?;
    let query = SearchQuery {
        provider_id: Some(provider_id),
        certificate_type: None,
        status: None,
        category: None,
        capability: None,
        limit: page.limit,
        offset: page.offset,
    };
    Ok(Json(run_search(&state, &actor, query).await?))
}

#[derive(Debug, Deserialize)]
pub struct CanPerformQuery {
    pub category: Option<String>,
    pub capability: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CanPerform {
    pub provider_id: String,
    pub category: String,
    pub capability: String,
    pub can_perform: bool,
    pub certificate_ids: Vec<String>,
}

pub async fn can_perform(
    State(state): State<AppState>,
    principal: Principal,
    Path(provider_id): Path<String>,
    Query(query): Query<CanPerformQuery>,
) -> Result<Json<CanPerform>> {
    require_internal(&principal)?;
    let (Some(category), Some(capability)) = (query.category, query.capability) else {
        return Err(Error::validation("category and capability are required"));
    };
    let rows = service::certificates_granting(&state.pool, &provider_id, &category, &capability).await?;
    let certificate_ids: Vec<String> = rows.into_iter().map(|r| r.id).collect();
    Ok(Json(CanPerform {
        provider_id,
        category,
        capability,
        can_perform: !certificate_ids.is_empty(),
        certificate_ids,
    }))
}
