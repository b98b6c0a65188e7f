//! `POST /v1/certificates/request` (tenant, `certs:issue`), and the operator's decisions:
//! `POST /v1/certificates/requests/{id}/approve|reject` [admin], also at the AEX-compatible
//! `/internal/v1/certificates/{id}/approve|reject`.

use super::certificates::CertificateView;
use super::require_internal;
use crate::AppState;
use crate::domain::credential::rfc3339;
use crate::domain::request::{CertificateType, Claim};
use crate::error::{Error, Result};
use crate::service;
use crate::store::requests::RequestRow;
use aex_common::auth::Principal;
use aex_common::server::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    pub provider_id: String,
    pub agent_name: String,
    pub certificate_type: String,
    pub claims: Vec<Claim>,
    pub public_key_pem: Option<String>,
    pub csr_pem: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RequestView {
    pub request_id: String,
    pub status: String,
    pub provider_id: String,
    pub agent_name: String,
    pub certificate_type: String,
    pub claims: serde_json::Value,
    pub certificate_id: Option<String>,
    pub reason: Option<String>,
    pub created_at: String,
    pub decided_at: Option<String>,
}

impl RequestView {
    fn from_row(row: RequestRow) -> Self {
        Self {
            request_id: row.id,
            status: row.status,
            provider_id: row.provider_id,
            agent_name: row.agent_name,
            certificate_type: row.certificate_type,
            claims: row.claims.0,
            certificate_id: row.certificate_id,
            reason: row.decision_reason,
            created_at: rfc3339(row.created_at),
            decided_at: row.decided_at.map(rfc3339),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<RequestBody>,
) -> Result<(StatusCode, Json<RequestView>)> {
    // The provider belongs to a tenant, so even the operator requests as one.
    let tenant_id = principal.require_tenant()?.to_string();
    if !principal.is_admin() {
        principal.require_scope("certs:issue")?;
    }
    let certificate_type = CertificateType::parse(&body.certificate_type)
        .ok_or_else(|| Error::validation("certificate_type must be CAPABILITY, IDENTITY, REPUTATION or RESELLER"))?;
    let valid = service::validate_request(
        &body.provider_id,
        &body.agent_name,
        certificate_type,
        body.claims,
        body.public_key_pem.as_deref(),
        body.csr_pem.as_deref(),
    )?;
    let row = service::request_certificate(&state.pool, &tenant_id, valid).await?;
    Ok((StatusCode::CREATED, Json(RequestView::from_row(row))))
}

/// `{reason?}`, or no body at all.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    pub reason: Option<String>,
}

/// Reads an optional JSON body: empty is the default, anything else must parse.
pub fn optional_body<T: Default + serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| Error::validation(format!("malformed body: {e}")))
}

fn reason(body: &DecisionBody) -> Result<Option<&str>> {
    match body.reason.as_deref() {
        Some(r) if r.len() > 512 => Err(Error::validation("reason must be at most 512 characters")),
        other => Ok(other),
    }
}

pub async fn approve(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<CertificateView>> {
    principal.require_scope("admin")?;
    let row = service::approve(&state.pool, &state.ca, &id).await?;
    Ok(Json(CertificateView::from_row(row)?))
}

pub async fn reject(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<RequestView>> {
    principal.require_scope("admin")?;
    let body: DecisionBody = optional_body(&body)?;
    let row = service::reject(&state.pool, &id, reason(&body)?).await?;
    Ok(Json(RequestView::from_row(row)))
}

pub async fn internal_approve(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<CertificateView>> {
    require_internal(&principal)?;
    let row = service::approve(&state.pool, &state.ca, &id).await?;
    Ok(Json(CertificateView::from_row(row)?))
}

pub async fn internal_reject(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<RequestView>> {
    require_internal(&principal)?;
    let body: DecisionBody = optional_body(&body)?;
    let row = service::reject(&state.pool, &id, reason(&body)?).await?;
    Ok(Json(RequestView::from_row(row)))
}
