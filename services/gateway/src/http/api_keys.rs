//! A tenant's API keys: create (shown once), list (never the secret), rotate with a grace
//! period, revoke. Self or operator; another tenant's keys answer 404.

use super::optional_json;
use crate::AppState;
use crate::auth::Caller;
use crate::domain::credential::{KeyStatus, KeyValidity};
use crate::domain::tenant::{self, TenantStatus};
use crate::domain::{FieldError, scope};
use crate::error::Error;
use crate::service::{self, EarlierCreate, IssuedKey, KeyRequest};
use crate::store;
use crate::store::api_key::ApiKeyRow;
use aex_common::server::Json;
use aex_types::Timestamp;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

/// Longest rotation grace period: 30 days.
const MAX_GRACE_SECONDS: i64 = 30 * 24 * 3600;
const DEFAULT_GRACE_SECONDS: i64 = 3600;
const MAX_PAGE: i64 = 200;

const CREATE_ROUTE: &str = "/v1/tenants/{id}/api-keys";

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: Option<String>,
    scopes: Option<Vec<String>>,
    expires_at: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    grace_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct Page {
    limit: Option<i64>,
    offset: Option<i64>,
}

/// A key in a listing: everything but the secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    id: String,
    tenant_id: String,
    name: String,
    prefix: String,
    scopes: Vec<String>,
    /// `ACTIVE`, `REVOKED`, `EXPIRED`, or `ROTATED` (grace period over).
    status: &'static str,
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    last_used_at: Option<Timestamp>,
    rotated_from: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    grace_until: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    revoked_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
}

impl KeyView {
    fn new(row: ApiKeyRow, now: Timestamp) -> Result<Self, Error> {
        let validity = KeyValidity {
            status: KeyStatus::from_db(&row.status),
            expires_at: row.expires_at,
            grace_until: row.grace_until,
            tenant_status: TenantStatus::Active,
        };
        Ok(Self {
            status: validity.display_status(now),
            id: row.id,
            tenant_id: row.tenant_id,
            name: row.name,
            prefix: row.prefix,
            scopes: row.scopes,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            rotated_from: row.rotated_from,
            grace_until: row.grace_until,
            revoked_at: row.revoked_at,
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    keys: Vec<KeyView>,
    total: i64,
    limit: i64,
    offset: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Rotated {
    #[serde(flatten)]
    key: IssuedKey,
    previous_key_id: String,
    #[schema(value_type = String, format = DateTime)]
    previous_key_valid_until: Timestamp,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Revoked {
    revoked: bool,
    id: String,
}

/// The tenant the caller may manage, or 404 (also for other tenants' ids).
async fn owned_tenant(state: &AppState, caller: &Caller, tenant_id: &str) -> Result<(), Error> {
    if !caller.may_access(tenant_id) || store::tenant::find(&state.pool, tenant_id).await?.is_none() {
        return Err(Error::NotFound("tenant"));
    }
    Ok(())
}

/// Creates a key. With an `Idempotency-Key` the same request again answers the same key
/// (without the secret), recorded in the creating transaction as for tenants.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<CreateKey>,
) -> Result<(StatusCode, HeaderMap, Json<IssuedKey>), Error> {
    owned_tenant(&state, &caller, &tenant_id).await?;
    let idempotency = match super::idempotency_key(&headers)? {
        Some(client_key) => {
            let canonical = serde_json::to_vec(&body).map_err(|e| Error::Internal(format!("request body: {e}")))?;
            let path = format!("/v1/tenants/{tenant_id}/api-keys");
            Some(service::CreateKey::new(&caller.tenant_id, CREATE_ROUTE, &path, &client_key, &canonical))
        }
        None => None,
    };
    let name = tenant::validate_name("name", body.name.as_deref())?;
    let requested = body.scopes.ok_or_else(|| FieldError::new("scopes", "scopes is required"))?;
    let scopes = scope::normalize(&requested).map_err(|message| FieldError::new("scopes", message))?;
    if let Some(scope) = scope::first_ungrantable(&caller.scopes, &scopes) {
        return Err(Error::ScopeNotGrantable(scope.to_string()));
    }
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some(text) => {
            let at = text
                .parse::<Timestamp>()
                .map_err(|_| FieldError::new("expires_at", "expires_at must be an RFC 3339 date-time"))?;
            if at <= Timestamp::now() {
                return Err(FieldError::new("expires_at", "expires_at must be in the future").into());
            }
            Some(at)
        }
    };
    let mut tx = state.pool.begin().await?;
    if let Some(key) = &idempotency
        && let Some(earlier) = service::claim_create(&mut tx, key).await?
    {
        tx.rollback().await?;
        let row = store::api_key::find(&mut *state.pool.acquire().await?, &earlier.tenant_id, &earlier.api_key_id)
            .await?
            .ok_or(Error::NotFound("API key"))?;
        tracing::info!(tenant_id, key_id = %row.id, "API key create replayed");
        return Ok((StatusCode::CREATED, super::replay_headers(true), Json(IssuedKey::replayed(row)?)));
    }
    let request = KeyRequest { tenant_id: &tenant_id, name: &name, scopes: &scopes, expires_at, rotated_from: None };
    let (key, row) = service::issue_key(&mut tx, &request).await?;
    if let Some(idempotency) = &idempotency {
        let created = EarlierCreate { tenant_id: tenant_id.clone(), api_key_id: row.id.clone() };
        service::complete_create(&mut tx, idempotency, &created).await?;
    }
    tx.commit().await?;
    // Usable at once here, even if it was presented (and remembered as unknown) before.
    state.auth.cache().evict(&row.key_hash);
    tracing::info!(tenant_id, key_id = %row.id, "API key created");
    Ok((StatusCode::CREATED, super::replay_headers(false), Json(IssuedKey::new(&key, row)?)))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant_id): Path<String>,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<KeyList>, Error> {
    let Query(page) = page.map_err(|_| FieldError::new("limit", "limit and offset must be integers"))?;
    let limit = page.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(FieldError::new("limit", format!("limit must be between 1 and {MAX_PAGE}")).into());
    }
    let offset = page.offset.unwrap_or(0);
    if offset < 0 {
        return Err(FieldError::new("offset", "offset must not be negative").into());
    }
    owned_tenant(&state, &caller, &tenant_id).await?;
    let (rows, total) = store::api_key::list(&state.pool, &tenant_id, limit, offset).await?;
    let now = Timestamp::now();
    let keys = rows.into_iter().map(|row| KeyView::new(row, now)).collect::<Result<_, _>>()?;
    Ok(Json(KeyList { keys, total, limit, offset }))
}

/// Issues a successor with the same name, scopes and expiry; the old key keeps working until
/// the grace period ends, and every replica drops its cached copy now.
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant_id, key_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<Rotated>), Error> {
    let rotate: Rotate = optional_json(&body)?;
    let grace_seconds = rotate.grace_seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
    if !(0..=MAX_GRACE_SECONDS).contains(&grace_seconds) {
        return Err(FieldError::new(
            "grace_seconds",
            format!("grace_seconds must be between 0 and {MAX_GRACE_SECONDS}"),
        )
        .into());
    }
    owned_tenant(&state, &caller, &tenant_id).await?;
    let mut tx = state.pool.begin().await?;
    let old = store::api_key::lock(&mut tx, &tenant_id, &key_id).await?.ok_or(Error::NotFound("API key"))?;
    let now = Timestamp::now();
    if KeyStatus::from_db(&old.status) == KeyStatus::Revoked {
        return Err(Error::KeyNotRotatable("it is revoked"));
    }
    if old.expires_at.is_some_and(|at| at <= now) {
        return Err(Error::KeyNotRotatable("it has expired"));
    }
    if old.grace_until.is_some() {
        return Err(Error::KeyNotRotatable("it has already been rotated"));
    }
    // Rotating must not hand the caller a key stronger than its own credentials.
    if let Some(scope) = scope::first_ungrantable(&caller.scopes, &old.scopes) {
        return Err(Error::ScopeNotGrantable(scope.to_string()));
    }
    let grace_until = now
        .checked_add(time::Duration::seconds(grace_seconds))
        .ok_or_else(|| Error::Internal("the grace period ends out of range".into()))?;
    let request = KeyRequest {
        tenant_id: &tenant_id,
        name: &old.name,
        scopes: &old.scopes,
        expires_at: old.expires_at,
        rotated_from: Some(&old.id),
    };
    let (key, row) = service::issue_key(&mut tx, &request).await?;
    store::api_key::set_grace(&mut tx, &old.id, grace_until).await?;
    store::notify_credentials_changed(&mut tx, &old.key_hash).await?;
    tx.commit().await?;
    // This replica at once; the others when the notification arrives (milliseconds).
    state.auth.cache().evict(&old.key_hash);
    state.auth.cache().evict(&row.key_hash);
    tracing::info!(tenant_id, old_key_id = %old.id, new_key_id = %row.id, grace_seconds, "API key rotated");
    Ok((
        StatusCode::CREATED,
        Json(Rotated {
            key: IssuedKey::new(&key, row)?,
            previous_key_id: old.id,
            previous_key_valid_until: grace_until,
        }),
    ))
}

/// Revokes a key; every replica refuses it within a second (NOTIFY in the same transaction).
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant_id, key_id)): Path<(String, String)>,
) -> Result<Json<Revoked>, Error> {
    owned_tenant(&state, &caller, &tenant_id).await?;
    let mut tx = state.pool.begin().await?;
    let key = store::api_key::lock(&mut tx, &tenant_id, &key_id).await?.ok_or(Error::NotFound("API key"))?;
    store::api_key::revoke(&mut tx, &key.id).await?;
    store::notify_credentials_changed(&mut tx, &key.key_hash).await?;
    tx.commit().await?;
    // This replica at once; the others when the notification arrives (milliseconds).
    state.auth.cache().evict(&key.key_hash);
    tracing::info!(tenant_id, key_id = %key.id, "API key revoked");
    Ok(Json(Revoked { revoked: true, id: key.id }))
}
