//! Who is calling: API keys (`X-API-Key`, or `Authorization: Bearer aexk_…`) and access tokens
//! (`Authorization: Bearer <jwt>`), resolved through a cache that every replica invalidates on
//! NOTIFY, and checked for revocation, expiry, rotation grace and tenant suspension.

pub mod cache;
pub mod jwt;
pub mod listener;
pub mod middleware;

use crate::domain::api_key::{self, PlaintextKey};
use crate::domain::credential::{KeyStatus, KeyValidity, Refusal};
use crate::domain::ratelimit::TenantOverrides;
use crate::domain::scope;
use crate::domain::tenant::TenantStatus;
use crate::error::Error;
use crate::store;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use cache::{CacheKey, Credential, CredentialCache};
use jwt::AccessTokens;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// The authenticated caller, placed in the request extensions by the authentication middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant_id: String,
    pub key_id: String,
    pub scopes: Vec<String>,
    /// The tenant's rate-limit overrides.
    pub overrides: TenantOverrides,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        scope::is_admin(&self.scopes)
    }

    /// Whether the caller may act on `tenant_id`'s resources (its own, or any as operator).
    pub fn may_access(&self, tenant_id: &str) -> bool {
        self.is_admin() || self.tenant_id == tenant_id
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or(Error::AuthenticationRequired)
    }
}

/// How often a key's `last_used_at` is written, at most.
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// Resolves credentials to callers.
#[derive(Clone)]
pub struct Authenticator {
    pool: PgPool,
    cache: Arc<CredentialCache>,
    tokens: AccessTokens,
    touched: Arc<Mutex<HashMap<String, Instant>>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(pool: PgPool, cache: Arc<CredentialCache>, tokens: AccessTokens) -> Self {
        Self { pool, cache, tokens, touched: Arc::new(Mutex::new(HashMap::new())) }
    }

    pub fn tokens(&self) -> &AccessTokens {
        &self.tokens
    }

    pub fn cache(&self) -> &Arc<CredentialCache> {
        &self.cache
    }

    /// Authenticates a request from its headers: `X-API-Key` first, then `Authorization`.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Error> {
        if let Some(value) = headers.get("x-api-key") {
            let key = value.to_str().map_err(|_| Error::InvalidApiKey)?;
            return self.by_api_key(key.trim()).await;
        }
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(Error::AuthenticationRequired);
        };
        let value = value.to_str().map_err(|_| Error::AuthenticationRequired)?;
        let (scheme, credential) = value.trim().split_once(' ').ok_or(Error::AuthenticationRequired)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Error::AuthenticationRequired);
        }
        let credential = credential.trim();
        if api_key::looks_like_api_key(credential) {
            self.by_api_key(credential).await
        } else {
            self.by_access_token(credential).await
        }
    }

    /// Authenticates a plaintext API key.
    pub async fn by_api_key(&self, presented: &str) -> Result<Caller, Error> {
        let key = PlaintextKey::parse(presented).ok_or(Error::InvalidApiKey)?;
        let hash = key.hash();
        let credential = match self.cached(CacheKey::Hash(hash.clone())) {
            Some(credential) => credential,
            None => {
                let generation = self.cache.generation();
                let row = store::api_key::credential_by_hash(&self.pool, &hash).await?.ok_or(Error::InvalidApiKey)?;
                self.remember(row, generation)
            }
        };
        check(&credential, Error::InvalidApiKey)?;
        self.touch(&credential.key_id);
        Ok(Caller {
            tenant_id: credential.tenant_id.clone(),
            key_id: credential.key_id.clone(),
            scopes: credential.scopes.clone(),
            overrides: credential.overrides,
        })
    }

    /// Authenticates an access token; the key it was issued for must still be valid.
    pub async fn by_access_token(&self, token: &str) -> Result<Caller, Error> {
        let claims = self.tokens.verify(token)?;
        let revoked = Error::InvalidToken("the API key it was issued for is no longer valid");
        let credential = match self.cached(CacheKey::Id(claims.sub.clone())) {
            Some(credential) => credential,
            None => {
                let generation = self.cache.generation();
                let Some(row) = store::api_key::credential_by_id(&self.pool, &claims.sub).await? else {
                    return Err(revoked);
                };
                self.remember(row, generation)
            }
        };
        if credential.tenant_id != claims.tenant_id {
            return Err(Error::InvalidToken("tenant mismatch"));
        }
        check(&credential, revoked)?;
        // A token never carries more than its key holds now.
        let scopes = claims.scopes.into_iter().filter(|s| credential.scopes.contains(s)).collect();
        Ok(Caller { tenant_id: claims.tenant_id, key_id: claims.sub, scopes, overrides: credential.overrides })
    }

    fn cached(&self, key: CacheKey) -> Option<Arc<Credential>> {
        let hit = self.cache.get(&key);
        metrics::counter!("aex_gateway_credential_cache_total", "result" => if hit.is_some() { "hit" } else { "miss" })
            .increment(1);
        hit
    }

    fn remember(&self, row: store::api_key::CredentialRow, generation: u64) -> Arc<Credential> {
        let credential = Credential {
            validity: KeyValidity {
                status: KeyStatus::from_db(&row.status),
                expires_at: row.expires_at,
                grace_until: row.grace_until,
                tenant_status: TenantStatus::from_db(&row.tenant_status),
            },
            key_id: row.id,
            key_hash: row.key_hash,
            tenant_id: row.tenant_id,
            scopes: row.scopes,
            overrides: TenantOverrides {
                per_minute: row.rate_limit_per_minute,
                burst: row.rate_limit_burst,
                money_per_minute: row.money_rate_limit_per_minute,
            },
        };
        self.cache.insert(credential.clone(), generation);
        Arc::new(credential)
    }

    /// Records use without a write per request: once a minute per key per replica (and the
    /// UPDATE itself skips rows touched in the last minute, so replicas do not add up).
    fn touch(&self, key_id: &str) {
        let now = Instant::now();
        {
            let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
            if touched.get(key_id).is_some_and(|at| now.duration_since(*at) < TOUCH_INTERVAL) {
                return;
            }
            if touched.len() >= 100_000 {
                touched.clear();
            }
            touched.insert(key_id.to_string(), now);
        }
        let pool = self.pool.clone();
        let key_id = key_id.to_string();
        tokio::spawn(async move {
            if let Err(error) = store::api_key::touch(&pool, &key_id).await {
                tracing::warn!(%error, key_id, "could not record API key use");
            }
        });
    }
}

fn check(credential: &Credential, invalid: Error) -> Result<(), Error> {
    credential.validity.check(OffsetDateTime::now_utc()).map_err(|refusal| match refusal {
        Refusal::TenantSuspended => Error::TenantSuspended,
        Refusal::Revoked | Refusal::Expired | Refusal::Superseded => invalid,
    })
}
