//! `GET /.well-known/aex-ca.json` (public) and the operator's key routes:
//! `POST /v1/ca/keys/rotate`, `POST /v1/ca/keys/{version}/revoke`.

use crate::AppState;
use crate::domain::ca::{ALGORITHM, ISSUER, key_id};
use crate::domain::credential::rfc3339;
use crate::error::{Error, Result};
use crate::service;
use crate::store::ca_keys::{self, CaKeyRow};
use aex_common::auth::Principal;
use aex_common::server::Json;
use axum::extract::{Path, State};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct KeyView {
    pub version: i32,
    pub key_id: String,
    pub status: String,
    pub public_key_pem: String,
    pub certificate: String,
    pub created_at: String,
    pub retired_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl KeyView {
    fn from_row(row: &CaKeyRow) -> Self {
        Self {
            version: row.version,
            key_id: key_id(row.version),
            status: row.status.clone(),
            public_key_pem: row.public_key_pem.clone(),
            certificate: row.certificate_pem.clone(),
            created_at: rfc3339(row.created_at),
            retired_at: row.retired_at.map(rfc3339),
            revoked_at: row.revoked_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct WellKnown {
    pub issuer: &'static str,
    pub algorithm: &'static str,
    pub key_id: Option<String>,
    pub public_key_pem: Option<String>,
    pub certificate: Option<String>,
    pub keys: Vec<KeyView>,
}

pub async fn well_known(State(state): State<AppState>) -> Result<Json<WellKnown>> {
    let rows = ca_keys::all(&state.pool).await?;
    let keys: Vec<KeyView> = rows.iter().map(KeyView::from_row).collect();
    let active = keys.iter().find(|k| k.status == "active");
    Ok(Json(WellKnown {
        issuer: ISSUER,
        algorithm: ALGORITHM,
        key_id: active.map(|k| k.key_id.clone()),
        public_key_pem: active.map(|k| k.public_key_pem.clone()),
        certificate: active.map(|k| k.certificate.clone()),
        keys,
    }))
}

pub async fn rotate(State(state): State<AppState>, principal: Principal) -> Result<Json<KeyView>> {
    principal.require_scope("admin")?;
    let row = service::rotate_key(&state.pool, &state.ca).await?;
    Ok(Json(KeyView::from_row(&row)))
}

pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(version): Path<String>,
) -> Result<Json<KeyView>> {
    principal.require_scope("admin")?;
    let version: i32 = version.parse().map_err(|_| Error::NotFound)?;
    service::revoke_key(&state.pool, &state.ca, version).await?;
    let row = ca_keys::get(&state.pool, version).await?.ok_or(Error::NotFound)?;
    Ok(Json(KeyView::from_row(&row)))
}
