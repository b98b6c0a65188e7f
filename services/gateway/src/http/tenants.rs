//! Tenants: `POST /v1/tenants` (operator; creates the first key, shown once), `GET
//! /v1/tenants/{id}` (self or operator), `POST /v1/tenants/{id}/suspend|activate` and
//! `POST /v1/tenants/{id}/quotas` (operator).

use super::optional_json;
use crate::AppState;
use crate::auth::Caller;
use crate::domain::{scope, tenant};
use crate::error::Error;
use crate::service::{self, CreateKey, EarlierCreate, IssuedKey, KeyRequest};
use crate::store;
use crate::store::tenant::TenantRow;
use aex_common::server::Json;
use aex_types::{TenantId, Timestamp};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const ROUTE: &str = "/v1/tenants";

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    name: Option<String>,
    #[serde(rename = "type")]
    tenant_type: Option<String>,
    contact_email: Option<String>,
    billing_email: Option<String>,
    metadata: Option<Value>,
    /// Scopes of the first key; by default those of the tenant's type.
    scopes: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    reason: Option<String>,
}

/// A tenant's quotas as the operator sets them: each `null` (or absent) means the gateway's
/// default. Rates are requests per minute (1 – 10 000 000), the burst requests on top (0 –
/// 10 000 000).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuotas {
    #[serde(default)]
    requests_per_minute: Option<i64>,
    #[serde(default)]
    burst: Option<i64>,
    #[serde(default)]
    money_requests_per_minute: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Quotas {
    /// `null`: the gateway default applies.
    requests_per_minute: Option<i32>,
    burst: Option<i32>,
    money_requests_per_minute: Option<i32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantView {
    id: String,
    tenant_id: String,
    name: String,
    #[serde(rename = "type")]
    tenant_type: String,
    status: String,
    status_reason: Option<String>,
    contact_email: Option<String>,
    billing_email: Option<String>,
    metadata: Value,
    /// The platform operator's own tenant.
    operator: bool,
    quotas: Quotas,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl TenantView {
    fn new(row: TenantRow) -> Result<Self, Error> {
        Ok(Self {
            tenant_id: row.id.clone(),
            id: row.id,
            name: row.name,
            tenant_type: row.tenant_type,
            status: row.status,
            status_reason: row.status_reason,
            contact_email: row.contact_email,
            billing_email: row.billing_email,
            metadata: row.metadata,
            operator: row.is_operator,
            quotas: Quotas {
                requests_per_minute: row.rate_limit_per_minute,
                burst: row.rate_limit_burst,
                money_requests_per_minute: row.money_rate_limit_per_minute,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedTenant {
    #[serde(flatten)]
    tenant: TenantView,
    api_key: IssuedKey,
}

/// Creates a tenant and its first key. With an `Idempotency-Key` the same request again answers
/// the same tenant and key (without the secret); the record is written in the creating
/// transaction, so concurrent repeats wait for the first and create nothing.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<CreateTenant>,
) -> Result<(StatusCode, HeaderMap, Json<CreatedTenant>), Error> {
    if !caller.is_admin() {
        return Err(Error::InsufficientScope(scope::ADMIN));
    }
    let idempotency = match super::idempotency_key(&headers)? {
        Some(client_key) => {
            let canonical = serde_json::to_vec(&body).map_err(|e| Error::Internal(format!("request body: {e}")))?;
            Some(CreateKey::new(&caller.tenant_id, ROUTE, ROUTE, &client_key, &canonical))
        }
        None => None,
    };
    let new = tenant::validate_new_tenant(
        body.name.as_deref(),
        body.tenant_type.as_deref(),
        body.contact_email.as_deref(),
        body.billing_email.as_deref(),
        body.metadata.as_ref(),
    )?;
    let scopes = match &body.scopes {
        Some(requested) => {
            scope::normalize(requested).map_err(|message| Error::Validation { field: "scopes", message })?
        }
        None => scope::defaults_for(new.tenant_type),
    };
    let id = TenantId::new();
    let mut tx = state.pool.begin().await?;
    if let Some(key) = &idempotency
        && let Some(earlier) = service::claim_create(&mut tx, key).await?
    {
        // Nothing to keep; the connection goes back before the reads (one per request at most,
        // so concurrent repeats cannot exhaust the pool).
        tx.rollback().await?;
        let row = store::tenant::find(&state.pool, &earlier.tenant_id).await?.ok_or(Error::NotFound("tenant"))?;
        let key_row = store::api_key::find(&mut *state.pool.acquire().await?, &earlier.tenant_id, &earlier.api_key_id)
            .await?
            .ok_or(Error::NotFound("API key"))?;
        tracing::info!(tenant_id = %row.id, "tenant create replayed");
        let created = CreatedTenant { tenant: TenantView::new(row)?, api_key: IssuedKey::replayed(key_row)? };
        return Ok((StatusCode::CREATED, super::replay_headers(true), Json(created)));
    }
    let row = store::tenant::insert(&mut tx, id.as_str(), &new, false).await?;
    let request =
        KeyRequest { tenant_id: id.as_str(), name: "default", scopes: &scopes, expires_at: None, rotated_from: None };
    let (key, key_row) = service::issue_key(&mut tx, &request).await?;
    if let Some(idempotency) = &idempotency {
        let created = EarlierCreate { tenant_id: row.id.clone(), api_key_id: key_row.id.clone() };
        service::complete_create(&mut tx, idempotency, &created).await?;
    }
    tx.commit().await?;
    state.auth.cache().evict(&key_row.key_hash);
    tracing::info!(tenant_id = %id, key_id = %key_row.id, "tenant created");
    Ok((
        StatusCode::CREATED,
        super::replay_headers(false),
        Json(CreatedTenant { tenant: TenantView::new(row)?, api_key: IssuedKey::new(&key, key_row)? }),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TenantView>, Error> {
    if !caller.may_access(&id) {
        return Err(Error::NotFound("tenant"));
    }
    let row = store::tenant::find(&state.pool, &id).await?.ok_or(Error::NotFound("tenant"))?;
    Ok(Json(TenantView::new(row)?))
}

pub async fn suspend(
    state: State<AppState>,
    caller: Caller,
    id: Path<String>,
    body: Bytes,
) -> Result<Json<TenantView>, Error> {
    set_status(state, caller, id, body, tenant::TenantStatus::Suspended).await
}

pub async fn activate(
    state: State<AppState>,
    caller: Caller,
    id: Path<String>,
    body: Bytes,
) -> Result<Json<TenantView>, Error> {
    set_status(state, caller, id, body, tenant::TenantStatus::Active).await
}

/// Sets a tenant's rate-limit quotas (operator only) and, in the same transaction, tells every
/// replica to drop the tenant's cached credentials, which carry them: the new quotas apply to
/// the next request on every replica.
pub async fn set_quotas(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<SetQuotas>,
) -> Result<Json<TenantView>, Error> {
    if !caller.is_admin() {
        return Err(Error::InsufficientScope(scope::ADMIN));
    }
    let quotas = tenant::validate_quotas(body.requests_per_minute, body.burst, body.money_requests_per_minute)?;
    let mut tx = state.pool.begin().await?;
    let row = store::tenant::set_quotas(&mut tx, &id, &quotas).await?.ok_or(Error::NotFound("tenant"))?;
    store::notify_credentials_changed(&mut tx, &id).await?;
    tx.commit().await?;
    state.auth.cache().evict(&id);
    tracing::info!(tenant_id = %id, ?quotas, "tenant quotas changed");
    Ok(Json(TenantView::new(row)?))
}

/// Changes the status and, in the same transaction, tells every replica to drop the tenant's
/// cached credentials: a suspension takes effect at once everywhere.
async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
    status: tenant::TenantStatus,
) -> Result<Json<TenantView>, Error> {
    if !caller.is_admin() {
        return Err(Error::InsufficientScope(scope::ADMIN));
    }
    let change: StatusChange = optional_json(&body)?;
    let reason = tenant::validate_reason(change.reason.as_deref())?;
    let mut tx = state.pool.begin().await?;
    let is_operator = store::tenant::is_operator(&mut tx, &id).await?.ok_or(Error::NotFound("tenant"))?;
    if is_operator && status == tenant::TenantStatus::Suspended {
        return Err(Error::OperatorTenant);
    }
    let row = store::tenant::set_status(&mut tx, &id, status.as_str(), reason.as_deref())
        .await?
        .ok_or(Error::NotFound("tenant"))?;
    store::notify_credentials_changed(&mut tx, &id).await?;
    tx.commit().await?;
    // This replica at once; the others when the notification arrives (milliseconds).
    state.auth.cache().evict(&id);
    tracing::info!(tenant_id = %id, status = status.as_str(), "tenant status changed");
    Ok(Json(TenantView::new(row)?))
}
