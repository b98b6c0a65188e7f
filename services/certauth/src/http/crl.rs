//! `GET /v1/crl` (signed JSON) and `GET /v1/crl.der` (X.509 CRL): public.

use crate::AppState;
use crate::domain::ca::{ISSUER, key_id};
use crate::domain::credential::rfc3339;
use crate::error::{Error, Result};
use crate::store::crls;
use aex_common::server::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct CrlView {
    pub issuer: &'static str,
    pub issuer_id: String,
    pub crl_number: i64,
    pub this_update: String,
    pub next_update: String,
    pub entries: serde_json::Value,
    pub signature_algorithm: &'static str,
    /// Base64 DER ECDSA signature over `signed_json`, the canonical form of the other fields.
    pub signature: String,
    pub signed_json: String,
}

pub async fn get_crl(State(state): State<AppState>) -> Result<Json<CrlView>> {
    let row = crls::latest(&state.pool).await?.ok_or(Error::NotFound)?;
    Ok(Json(CrlView {
        issuer: ISSUER,
        issuer_id: key_id(row.key_version),
        crl_number: row.crl_number,
        this_update: rfc3339(row.this_update),
        next_update: rfc3339(row.next_update),
        entries: row.entries.0,
        signature_algorithm: crate::domain::ca::ALGORITHM,
        signature: row.signature,
        signed_json: row.signed_json,
    }))
}

pub async fn get_crl_der(State(state): State<AppState>) -> Result<impl IntoResponse> {
    let row = crls::latest(&state.pool).await?.ok_or(Error::NotFound)?;
    Ok(([(header::CONTENT_TYPE, "application/pkix-crl")], row.der))
}
