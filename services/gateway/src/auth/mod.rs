//! Who is calling: API keys (`X-API-Key`, or `Authorization: Bearer aexk_…`) and access tokens
//! (`Authorization: Bearer <jwt>`), resolved through a cache that every replica invalidates on
//! NOTIFY, and checked for revocation, expiry, rotation grace and tenant suspension. Failed
//! attempts are charged to the client's address and the key's prefix (`throttle`), and past
//! their budget refused before any database lookup.

pub mod cache;
pub mod jwt;
pub mod listener;
pub mod middleware;
pub mod throttle;

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
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use throttle::FailureThrottle;
use tokio::sync::OnceCell;

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
    failures: FailureThrottle,
    /// Database lookups in flight by (key hash, client address): concurrent requests with the
    /// same uncached key from one client share one lookup and one charge.
    in_flight: Arc<Mutex<HashMap<LookupSlot, Arc<OnceCell<Lookup>>>>>,
    touched: Arc<Mutex<HashMap<String, Instant>>>,
}

/// (key hash, client address) of a lookup in flight.
type LookupSlot = (String, String);

/// What one database lookup of a key found, shared by the requests waiting on it.
#[derive(Debug, Clone)]
enum Lookup {
    Found(Arc<Credential>),
    Missing,
    Throttled(Duration),
    Failed(String),
}

impl Lookup {
    fn into_result(self) -> Result<Arc<Credential>, Error> {
        match self {
            Self::Found(credential) => Ok(credential),
            Self::Missing => Err(Error::InvalidApiKey),
            Self::Throttled(retry_after) => Err(Error::AuthenticationThrottled { retry_after }),
            Self::Failed(error) => Err(Error::Internal(format!("credential lookup: {error}"))),
        }
    }
}

/// Bounds the in-flight map if lookups are abandoned (clients gone) faster than they finish.
const MAX_IN_FLIGHT_LOOKUPS: usize = 10_000;

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(pool: PgPool, cache: Arc<CredentialCache>, tokens: AccessTokens, failures: FailureThrottle) -> Self {
        Self {
            pool,
            cache,
            tokens,
            failures,
            in_flight: Arc::new(Mutex::new(HashMap::new())),
            touched: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn tokens(&self) -> &AccessTokens {
        &self.tokens
    }

    pub fn cache(&self) -> &Arc<CredentialCache> {
        &self.cache
    }

    /// Authenticates a request from its headers (`X-API-Key` first, then `Authorization`)
    /// sent from `client`.
    pub async fn authenticate(&self, headers: &HeaderMap, client: Option<IpAddr>) -> Result<Caller, Error> {
        if let Some(value) = headers.get("x-api-key") {
            let Ok(key) = value.to_str() else {
                let address = throttle_address(client);
                self.failures.check_address(&address)?;
                return Err(self.failed(&address, None, Error::InvalidApiKey).await);
            };
            return self.by_api_key(key.trim(), client).await;
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
            self.by_api_key(credential, client).await
        } else {
            self.by_access_token(credential, client).await
        }
    }

    /// Authenticates a plaintext API key presented from `client`.
    pub async fn by_api_key(&self, presented: &str, client: Option<IpAddr>) -> Result<Caller, Error> {
        let address = throttle_address(client);
        // A throttled address is refused even with a good key: otherwise the answers would
        // still tell a guesser, at full speed, which of its guesses is right.
        self.failures.check_address(&address)?;
        let Some(key) = PlaintextKey::parse(presented) else {
            return Err(self.failed(&address, None, Error::InvalidApiKey).await);
        };
        let hash = key.hash();
        let prefix = key.display_prefix();
        let (credential, charged) = match self.cached(CacheKey::Hash(hash.clone())) {
            Some(credential) => (credential, false),
            None => (self.look_up_key(&hash, &address, &prefix).await?, true),
        };
        match check(&credential, Error::InvalidApiKey) {
            Ok(()) => {}
            Err(Error::InvalidApiKey) if !charged => {
                return Err(self.failed(&address, Some(&prefix), Error::InvalidApiKey).await);
            }
            Err(refusal) => return Err(refusal),
        }
        self.touch(&credential.key_id);
        Ok(Caller {
            tenant_id: credential.tenant_id.clone(),
            key_id: credential.key_id.clone(),
            scopes: credential.scopes.clone(),
            overrides: credential.overrides,
        })
    }

    /// Authenticates an access token presented from `client`; the key it was issued for must
    /// still be valid.
    pub async fn by_access_token(&self, token: &str, client: Option<IpAddr>) -> Result<Caller, Error> {
        let address = throttle_address(client);
        self.failures.check_address(&address)?;
        match self.verify_access_token(token).await {
            Err(error @ Error::InvalidToken(_)) => Err(self.failed(&address, None, error).await),
            verified => verified,
        }
    }

    async fn verify_access_token(&self, token: &str) -> Result<Caller, Error> {
        let claims = self.tokens.verify(token)?;
        let revoked = Error::InvalidToken("the API key it was issued for is no longer valid");
        let credential = match self.cached(CacheKey::Id(claims.sub.clone())) {
            Some(credential) => credential,
            None => {
                let generation = self.cache.generation();
                metrics::counter!("aex_gateway_credential_db_lookups_total", "by" => "key_id").increment(1);
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

    /// An uncached key: a remembered miss, or one database lookup shared by the concurrent
    /// requests of one client presenting it.
    async fn look_up_key(&self, hash: &str, address: &str, prefix: &str) -> Result<Arc<Credential>, Error> {
        if self.cache.is_missing(hash) {
            metrics::counter!("aex_gateway_credential_cache_total", "result" => "known_missing").increment(1);
            return Err(self.failed(address, Some(prefix), Error::InvalidApiKey).await);
        }
        let slot = (hash.to_string(), address.to_string());
        let cell = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            if in_flight.len() >= MAX_IN_FLIGHT_LOOKUPS {
                in_flight.retain(|_, cell| Arc::strong_count(cell) > 1);
            }
            in_flight.entry(slot.clone()).or_default().clone()
        };
        let lookup = cell.get_or_init(|| self.look_up_key_once(hash, address, prefix)).await.clone();
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if in_flight.get(&slot).is_some_and(|held| Arc::ptr_eq(held, &cell)) {
            in_flight.remove(&slot);
        }
        lookup.into_result()
    }

    /// Looks a key up in Postgres, charged to the address and the prefix first so that
    /// concurrent guesses cannot all reach the database; the charge is given back when the key
    /// exists and is good. A hash that matches no key is remembered (the negative cache).
    async fn look_up_key_once(&self, hash: &str, address: &str, prefix: &str) -> Lookup {
        if let Err(error) = self.failures.charge(address, Some(prefix)).await {
            return match error {
                Error::AuthenticationThrottled { retry_after } => Lookup::Throttled(retry_after),
                other => Lookup::Failed(other.to_string()),
            };
        }
        let generation = self.cache.generation();
        metrics::counter!("aex_gateway_credential_db_lookups_total", "by" => "key_hash").increment(1);
        let row = match store::api_key::credential_by_hash(&self.pool, hash).await {
            Ok(Some(row)) => row,
            Ok(None) => {
                self.cache.insert_missing(hash, generation);
                return Lookup::Missing;
            }
            Err(error) => {
                // Our failure, not the caller's.
                self.failures.refund(address, Some(prefix)).await;
                return Lookup::Failed(error.to_string());
            }
        };
        let credential = self.remember(row, generation);
        if !matches!(check(&credential, Error::InvalidApiKey), Err(Error::InvalidApiKey)) {
            self.failures.refund(address, Some(prefix)).await;
        }
        Lookup::Found(credential)
    }

    /// Charges a failure that needed no lookup; past the budget the answer is 429 instead.
    async fn failed(&self, address: &str, prefix: Option<&str>, error: Error) -> Error {
        match self.failures.charge(address, prefix).await {
            Ok(()) => error,
            Err(throttled) => throttled,
        }
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

/// The throttle's bucket of a client address.
fn throttle_address(client: Option<IpAddr>) -> String {
    crate::domain::throttle::address_bucket(client)
}

fn check(credential: &Credential, invalid: Error) -> Result<(), Error> {
    credential.validity.check(aex_types::Timestamp::now()).map_err(|refusal| match refusal {
        Refusal::TenantSuspended => Error::TenantSuspended,
        Refusal::Revoked | Refusal::Expired | Refusal::Superseded => invalid,
    })
}
