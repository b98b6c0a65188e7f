//! The idempotency replay cache: a `POST` with an `Idempotency-Key` is executed
//! at most once per tenant, route and key while its record lives.
//!
//! Layout: one Redis hash per key at
//! `<prefix>idempotency:<tenant_id>:<sha256(method, route pattern, path, client key)>` with
//! `state` (`in_flight` | `done`), `fingerprint` (SHA-256 of method, path, query, body),
//! `token` (the claimer's, while in flight), and once done `status`, `headers`, `body`.
//!
//! States: absent → `in_flight` (claimed with one atomic script, lifetime
//! `--idempotency-lock-seconds`) → `done` (the first response, kept `--idempotency-ttl-seconds`),
//! or back to absent when the request fails with a 5xx or a transport error, or its client
//! goes away, so the client may try again. The header still travels upstream: the owning
//! service's record is the authoritative one for money.
//!
//! Applies to proxied routes only: the gateway's own `POST`s return fresh secrets (API keys,
//! tokens), which are never to be stored in Redis. Its creates (tenants, API keys) keep their
//! `Idempotency-Key` record in Postgres instead, with ids only (`service::claim_create`).

use crate::auth::Caller;
use crate::config::LimitArgs;
use crate::domain::FieldError;
use crate::domain::idempotency::{self, Record, Verdict};
use crate::domain::route::{self, Service, Verb};
use crate::error::Error;
use crate::redis_pool::{Redis, RedisFailure};
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The replay cache in Redis.
#[derive(Clone)]
pub struct ReplayCache {
    redis: Redis,
    claim: Arc<redis::Script>,
    complete: Arc<redis::Script>,
    release: Arc<redis::Script>,
    ttl: Duration,
    lock: Duration,
}

impl std::fmt::Debug for ReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayCache").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

/// What claiming a key found.
enum Claim {
    Claimed,
    Held(Record),
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl ReplayCache {
    pub fn new(redis: Redis, args: &LimitArgs) -> Self {
        Self {
            redis,
            claim: Arc::new(redis::Script::new(include_str!("claim.lua"))),
            complete: Arc::new(redis::Script::new(include_str!("complete.lua"))),
            release: Arc::new(redis::Script::new(include_str!("release.lua"))),
            ttl: Duration::from_secs(args.idempotency_ttl_seconds),
            lock: Duration::from_secs(args.idempotency_lock_seconds),
        }
    }

    async fn claim(&self, key: &str, token: &str, fingerprint: &str) -> Result<Claim, RedisFailure> {
        let mut invocation = self.claim.prepare_invoke();
        invocation.key(key).arg(token).arg(fingerprint).arg(millis(self.lock));
        let invocation = &invocation;
        let reply: Vec<Vec<u8>> =
            self.redis.run(|mut connection| async move { invocation.invoke_async(&mut connection).await }).await?;
        parse_claim(reply).ok_or_else(|| {
            tracing::error!("unexpected reply from the idempotency claim script");
            RedisFailure::Unavailable
        })
    }

    async fn complete(
        &self,
        key: &str,
        token: &str,
        status: StatusCode,
        headers: &str,
        body: &[u8],
    ) -> Result<bool, RedisFailure> {
        let mut invocation = self.complete.prepare_invoke();
        invocation.key(key).arg(token).arg(status.as_u16()).arg(headers).arg(body).arg(millis(self.ttl));
        let invocation = &invocation;
        let stored: i64 =
            self.redis.run(|mut connection| async move { invocation.invoke_async(&mut connection).await }).await?;
        Ok(stored == 1)
    }

    async fn release(&self, key: &str, token: &str) -> Result<(), RedisFailure> {
        let mut invocation = self.release.prepare_invoke();
        invocation.key(key).arg(token);
        let invocation = &invocation;
        let _: i64 =
            self.redis.run(|mut connection| async move { invocation.invoke_async(&mut connection).await }).await?;
        Ok(())
    }
}

fn parse_claim(reply: Vec<Vec<u8>>) -> Option<Claim> {
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).ok();
    match reply.as_slice() {
        [claimed] if claimed.as_slice() == b"claimed" => Some(Claim::Claimed),
        [state, fingerprint, status, headers, body] => {
            let fingerprint = text(fingerprint)?;
            match state.as_slice() {
                b"in_flight" => Some(Claim::Held(Record::InFlight { fingerprint })),
                b"done" => Some(Claim::Held(Record::Done {
                    fingerprint,
                    status: text(status)?.parse().ok()?,
                    headers: serde_json::from_slice(headers).ok()?,
                    body: body.clone(),
                })),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Drops the claim if the request never finishes (the client went away mid-flight).
struct ClaimGuard {
    cache: ReplayCache,
    key: String,
    token: String,
    armed: bool,
}

impl ClaimGuard {
    async fn release(mut self) {
        self.armed = false;
        if self.cache.release(&self.key, &self.token).await.is_err() {
            tracing::warn!("could not release an idempotency claim; it expires on its own");
        }
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if self.armed {
            let (cache, key, token) =
                (self.cache.clone(), std::mem::take(&mut self.key), std::mem::take(&mut self.token));
            tokio::spawn(async move {
                let _ = cache.release(&key, &token).await;
            });
        }
    }
}

fn claim_token() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("OS random number generator: {e}")))?;
    Ok(hex::encode(bytes))
}

/// Middleware after the scope check, before the proxy.
pub async fn guard(State(cache): State<ReplayCache>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || !request.headers().contains_key(&IDEMPOTENCY_KEY) {
        return next.run(request).await;
    }
    let pattern = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_default();
    let proxied = route::find(Verb::Post, &pattern).is_some_and(|r| r.service != Service::Gateway);
    let Some(tenant_id) = request.extensions().get::<Caller>().map(|c| c.tenant_id.clone()) else {
        return next.run(request).await;
    };
    if !proxied {
        return next.run(request).await;
    }
    match replay_or_run(cache, tenant_id, pattern, request, next).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn replay_or_run(
    cache: ReplayCache,
    tenant_id: String,
    pattern: String,
    request: Request,
    next: Next,
) -> Result<Response, Error> {
    let header = request.headers().get(&IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok()).unwrap_or("");
    let client_key = idempotency::validate_key(header)
        .map_err(|FieldError { field, message }| Error::Validation { field, message })?
        .to_string();
    let (parts, body) = request.into_parts();
    // The body limit layer bounds this; exceeding it (a chunked body) is the caller's 413.
    let body = axum::body::to_bytes(body, usize::MAX).await.map_err(|_| Error::PayloadTooLarge)?;
    let path = parts.uri.path();
    let fingerprint = idempotency::fingerprint("POST", path, parts.uri.query().unwrap_or(""), &body);
    let scope = idempotency::scope_digest("POST", &pattern, path, &client_key);
    let key = cache.redis.key(&["idempotency", &tenant_id, &scope]);
    let token = claim_token()?;

    let record = match cache.claim(&key, &token, &fingerprint).await {
        Ok(Claim::Held(record)) => record,
        Ok(Claim::Claimed) => {
            let guard = ClaimGuard { cache: cache.clone(), key, token, armed: true };
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            return Ok(finish(guard, response).await);
        }
        Err(RedisFailure::Overloaded) => return Err(Error::Overloaded),
        Err(RedisFailure::Unavailable) => return Err(Error::IdempotencyUnavailable),
    };
    match idempotency::judge(record, &fingerprint) {
        Verdict::Reused => Err(Error::IdempotencyKeyReused),
        Verdict::InProgress => Err(Error::RequestInProgress),
        Verdict::Replay { status, headers, body } => {
            metrics::counter!("aex_gateway_idempotent_replays_total").increment(1);
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                    response.headers_mut().insert(name, value);
                }
            }
            response.headers_mut().insert(IDEMPOTENT_REPLAYED.clone(), HeaderValue::from_static("true"));
            Ok(response)
        }
    }
}

/// Keeps the first response (or drops the claim when it must not be kept) and returns it.
async fn finish(guard: ClaimGuard, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            guard.release().await;
            return Error::Internal(format!("reading the upstream response: {error}")).into_response();
        }
    };
    if !idempotency::cacheable(parts.status.as_u16(), body.len()) {
        guard.release().await;
        return Response::from_parts(parts, Body::from(body));
    }
    let headers: Vec<(&str, &str)> = idempotency::STORED_RESPONSE_HEADERS
        .iter()
        .filter_map(|name| parts.headers.get(*name).and_then(|v| v.to_str().ok()).map(|v| (*name, v)))
        .collect();
    let headers = serde_json::to_string(&headers).unwrap_or_else(|_| "[]".to_string());
    match guard.cache.complete(&guard.key, &guard.token, parts.status, &headers, &body).await {
        Ok(true) => guard.disarm(),
        Ok(false) => {
            tracing::warn!("an idempotency claim expired before its request finished; the response was not kept");
            guard.disarm();
        }
        Err(_) => {
            tracing::warn!("could not keep a response for replay; releasing its idempotency claim");
            guard.release().await;
        }
    }
    Response::from_parts(parts, Body::from(body))
}
