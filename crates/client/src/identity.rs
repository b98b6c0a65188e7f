//! Gateway and identity: tenants (operator), a tenant's API keys, and the gateway's own
//! public routes (`/health`, `/v1/info`, `/openapi.json`). Token exchange is in [`crate::auth`].
//!
//! ```no_run
//! use aex_client::Client;
//! use aex_client::identity::{NewApiKey, NewTenant, TenantType};
//!
//! # async fn demo() -> aex_client::Result<()> {
//! let operator = Client::builder("http://127.0.0.1:8080").api_key("aexk_operator…").build()?;
//! let created = operator.tenants().create(&NewTenant::new("Acme Translations", TenantType::Both)).await?;
//! println!("tenant {} with key {}", created.tenant.id, created.api_key.prefix);
//!
//! let acme = Client::builder("http://127.0.0.1:8080").api_key(created.api_key.secret()?.expose()).build()?;
//! let reader = acme.api_keys(&created.tenant.id).create(&NewApiKey::new("dashboards", ["read"])).await?;
//! # let _ = reader;
//! # Ok(())
//! # }
//! ```

use crate::auth::Secret;
use crate::client::{Call, Client, Retry, resource};
use crate::error::Result;
use crate::page::{Page, PageParams, walk};
use aex_types::{ApiKeyId, TenantId, Timestamp};
use futures::stream::BoxStream;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a tenant does on the marketplace; decides the scopes of its first key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TenantType {
    /// Publishes work and pays for it.
    Requestor,
    /// Runs provider agents that bid and deliver.
    Provider,
    /// Both.
    Both,
}

/// `POST /v1/tenants` [admin].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NewTenant {
    pub name: String,
    #[serde(rename = "type")]
    pub tenant_type: TenantType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Scopes of the first key; by default those of the tenant's type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

impl NewTenant {
    /// A tenant with a name and a type, nothing else.
    pub fn new(name: impl Into<String>, tenant_type: TenantType) -> Self {
        Self { name: name.into(), tenant_type, contact_email: None, billing_email: None, metadata: None, scopes: None }
    }
}

/// The rate-limit overrides of a tenant; `None` means the gateway default. Also what
/// [`Tenants::set_quotas`] sends.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Quotas {
    pub requests_per_minute: Option<i32>,
    pub burst: Option<i32>,
    pub money_requests_per_minute: Option<i32>,
}

/// A tenant, as `GET /v1/tenants/{id}` shows it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Tenant {
    pub id: TenantId,
    /// The same as `id` (the AEX field name).
    pub tenant_id: TenantId,
    pub name: String,
    #[serde(rename = "type")]
    pub tenant_type: TenantType,
    /// `ACTIVE` or `SUSPENDED`.
    pub status: String,
    pub status_reason: Option<String>,
    pub contact_email: Option<String>,
    pub billing_email: Option<String>,
    pub metadata: Value,
    /// The platform operator's own tenant.
    pub operator: bool,
    pub quotas: Quotas,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A newly issued API key: the secret is shown this once.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct IssuedKey {
    pub id: ApiKeyId,
    /// The key itself (`aexk_…`); store it now, it is never shown again. `None` when this
    /// answer repeats an earlier create with the same `Idempotency-Key`: the secret was in that
    /// first answer (see [`IssuedKey::secret`]).
    pub key: Option<Secret>,
    /// Why `key` is absent, when it is.
    #[serde(default)]
    pub key_note: Option<String>,
    pub prefix: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<Timestamp>,
    pub rotated_from: Option<ApiKeyId>,
    pub created_at: Timestamp,
}

impl IssuedKey {
    /// The secret, or [`Error::SecretAlreadyShown`] when this answer repeats an earlier create.
    pub fn secret(&self) -> Result<&Secret, crate::Error> {
        self.key.as_ref().ok_or_else(|| crate::Error::SecretAlreadyShown { key_id: self.id.to_string() })
    }
}

/// `POST /v1/tenants` answers the tenant and its first key.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CreatedTenant {
    #[serde(flatten)]
    pub tenant: Tenant,
    pub api_key: IssuedKey,
}

#[derive(Debug, Serialize)]
struct StatusChange<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

resource!(
    /// Tenants: `client.tenants()`. Creating, suspending and activating need the operator key.
    Tenants
);

impl Client {
    /// Tenants (gateway).
    pub fn tenants(&self) -> Tenants<'_> {
        Tenants::new(self)
    }

    /// The API keys of `tenant` (gateway): the caller's own tenant, or any as the operator.
    pub fn api_keys<'a>(&'a self, tenant: &'a TenantId) -> ApiKeys<'a> {
        ApiKeys { client: self, tenant, options: Default::default() }
    }

    /// The gateway's public routes.
    pub fn gateway(&self) -> Gateway<'_> {
        Gateway { client: self }
    }
}

impl Tenants<'_> {
    /// `POST /v1/tenants` [admin]: creates a tenant and its first API key.
    pub async fn create(&self, tenant: &NewTenant) -> Result<CreatedTenant> {
        self.call(Method::POST, &["v1", "tenants"]).json(tenant)?.retry(Retry::IfNotSent).send().await
    }

    /// `GET /v1/tenants/{id}`: the caller's own tenant, or any as the operator.
    pub async fn get(&self, id: &TenantId) -> Result<Tenant> {
        self.call(Method::GET, &["v1", "tenants", id.as_str()]).send().await
    }

    /// `POST /v1/tenants/{id}/suspend` [admin]: the tenant's keys stop working at once.
    pub async fn suspend(&self, id: &TenantId, reason: Option<&str>) -> Result<Tenant> {
        self.set_status(id, "suspend", reason).await
    }

    /// `POST /v1/tenants/{id}/activate` [admin].
    pub async fn activate(&self, id: &TenantId, reason: Option<&str>) -> Result<Tenant> {
        self.set_status(id, "activate", reason).await
    }

    /// `POST /v1/tenants/{id}/quotas` [admin]: the tenant's rate limits (`None`: the gateway
    /// default), in force on the next request at every gateway replica.
    pub async fn set_quotas(&self, id: &TenantId, quotas: &Quotas) -> Result<Tenant> {
        self.call(Method::POST, &["v1", "tenants", id.as_str(), "quotas"]).json(quotas)?.send().await
    }

    async fn set_status(&self, id: &TenantId, action: &str, reason: Option<&str>) -> Result<Tenant> {
        self.call(Method::POST, &["v1", "tenants", id.as_str(), action]).json(&StatusChange { reason })?.send().await
    }
}

/// `POST /v1/tenants/{id}/api-keys`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NewApiKey {
    pub name: String,
    /// At most the creator's own scopes.
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl NewApiKey {
    /// A key without expiry.
    pub fn new<S: Into<String>>(name: impl Into<String>, scopes: impl IntoIterator<Item = S>) -> Self {
        Self { name: name.into(), scopes: scopes.into_iter().map(Into::into).collect(), expires_at: None }
    }
}

/// A key in a listing: never the secret.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    /// `ACTIVE`, `REVOKED`, `EXPIRED`, or `ROTATED` (grace period over).
    pub status: String,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub rotated_from: Option<ApiKeyId>,
    pub grace_until: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// `POST …/api-keys/{key_id}/rotate`: the successor, and until when the old key still works.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RotatedKey {
    #[serde(flatten)]
    pub key: IssuedKey,
    pub previous_key_id: ApiKeyId,
    pub previous_key_valid_until: Timestamp,
}

/// `DELETE …/api-keys/{key_id}`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RevokedKey {
    pub revoked: bool,
    pub id: ApiKeyId,
}

#[derive(Debug, Serialize)]
struct Rotate {
    #[serde(skip_serializing_if = "Option::is_none")]
    grace_seconds: Option<u64>,
}

/// One tenant's API keys: `client.api_keys(&tenant_id)`.
#[derive(Debug, Clone)]
pub struct ApiKeys<'a> {
    client: &'a Client,
    tenant: &'a TenantId,
    options: crate::RequestOptions,
}

impl ApiKeys<'_> {
    /// The options (idempotency key, request id, timeout) of the calls made through this handle.
    pub fn options(mut self, options: crate::RequestOptions) -> Self {
        self.options = options;
        self
    }

    fn call(&self, method: Method, tail: &[&str]) -> Call<'_> {
        let mut segments = vec!["v1", "tenants", self.tenant.as_str(), "api-keys"];
        segments.extend_from_slice(tail);
        Call::new(self.client, method, &segments).options(&self.options)
    }

    /// `POST /v1/tenants/{id}/api-keys`: a new key, shown once.
    pub async fn create(&self, key: &NewApiKey) -> Result<IssuedKey> {
        self.call(Method::POST, &[]).json(key)?.retry(Retry::IfNotSent).send().await
    }

    /// `GET /v1/tenants/{id}/api-keys`: one page (limit 1–200, default 50), newest first.
    pub async fn list(&self, page: PageParams) -> Result<Page<ApiKey>> {
        Page::decode(self.call(Method::GET, &[]).query(&page.pairs()).send().await?, "keys")
    }

    /// Every key of the tenant, page after page.
    pub fn list_all(&self, page: PageParams) -> BoxStream<'static, Result<ApiKey>> {
        let (client, tenant) = (self.client.clone(), self.tenant.clone());
        walk(page, move |params| {
            let (client, tenant) = (client.clone(), tenant.clone());
            async move { client.api_keys(&tenant).list(params).await }
        })
    }

    /// `POST …/api-keys/{key_id}/rotate`: a successor with the same name and scopes; the old
    /// key keeps working for `grace_seconds` (default one hour, at most 30 days).
    pub async fn rotate(&self, key: &ApiKeyId, grace_seconds: Option<u64>) -> Result<RotatedKey> {
        self.call(Method::POST, &[key.as_str(), "rotate"])
            .json(&Rotate { grace_seconds })?
            .retry(Retry::IfNotSent)
            .send()
            .await
    }

    /// `DELETE …/api-keys/{key_id}`: refused on every gateway replica within a second.
    pub async fn revoke(&self, key: &ApiKeyId) -> Result<RevokedKey> {
        self.call(Method::DELETE, &[key.as_str()]).send().await
    }
}

/// `GET /v1/info`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Info {
    pub name: String,
    pub version: String,
}

/// `GET /health`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// The answering service (`aex-gateway`).
    pub service: String,
}

/// The gateway's public routes: `client.gateway()`.
#[derive(Debug, Clone, Copy)]
pub struct Gateway<'a> {
    client: &'a Client,
}

impl Gateway<'_> {
    /// `GET /health`: liveness.
    pub async fn health(&self) -> Result<Health> {
        Call::new(self.client, Method::GET, &["health"]).anonymous().send().await
    }

    /// `GET /health/ready`: every dependency checked; a 503 (as [`crate::Error::Api`]) when one is down.
    pub async fn ready(&self) -> Result<Value> {
        Call::new(self.client, Method::GET, &["health", "ready"]).anonymous().send().await
    }

    /// `GET /v1/info`: the gateway's name and version.
    pub async fn info(&self) -> Result<Info> {
        Call::new(self.client, Method::GET, &["v1", "info"]).anonymous().send().await
    }

    /// `GET /openapi.json`: the OpenAPI 3.1 document of the whole public API.
    pub async fn openapi(&self) -> Result<Value> {
        Call::new(self.client, Method::GET, &["openapi.json"]).anonymous().send().await
    }
}
