//! The idempotency replay cache: a `POST` with an `Idempotency-Key` is executed
//! at most once per tenant, route and key while its record lives.
//!
//! Layout: one Redis hash per key at
//! `<prefix>idempotency:<tenant_id>:<sha256(method, route pattern, path, client key)>` with
//! `state` (`in_flight` | `done`), `fingerprint` (SHA-256 of method, path, query, body),
//! `token` (the claimer's, while in flight), and once done `status`, `headers`, `body`.
//!
//! States: absent → `in_flight` (claimed atomically in the rate limiter's round trip, lifetime
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
use axum::extract::{MatchedPath, Request};
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
#[derive(Debug)]
pub enum Claim {
    Claimed,
    Held(Record),
}

/// A key to claim for a request, in the rate limiter's round trip (`ratelimit/gcra.lua`).
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub key: String,
    pub token: String,
    pub fingerprint: String,
    pub lifetime_ms: u64,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl ReplayCache {
    pub fn new(redis: Redis, args: &LimitArgs) -> Self {
        Self {
            redis,
            complete: Arc::new(redis::Script::new(include_str!("complete.lua"))),
            release: Arc::new(redis::Script::new(include_str!("release.lua"))),
            ttl: Duration::from_secs(args.idempotency_ttl_seconds),
            lock: Duration::from_secs(args.idempotency_lock_seconds),
        }
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

/// A claim's outcome as the script returns it: `{'claimed'}` or `{state, fingerprint, status,
/// headers, body}`.
pub fn parse_claim(reply: &[redis::Value]) -> Option<Claim> {
    let bytes = |value: &redis::Value| match value {
        redis::Value::BulkString(bytes) => Some(bytes.clone()),
        redis::Value::SimpleString(text) => Some(text.clone().into_bytes()),
        _ => None,
    };
    let fields: Vec<Vec<u8>> = reply.iter().map(bytes).collect::<Option<_>>()?;
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).ok();
    match fields.as_slice() {
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

/// A request the replay cache covers, ready for its claim: the request (its body read) and
/// the claim to make.
pub struct Covered {
    pub request: Request,
    pub claim: ClaimRequest,
}

/// Whether the cache covers `request` — a `POST` with an `Idempotency-Key` to a proxied
/// route, by an authenticated caller — and if so its claim. `Ok(Err(request))` hands back a
/// request it does not cover; `Err` is a malformed key or an unreadable body.
pub async fn cover(cache: &ReplayCache, request: Request) -> Result<Result<Covered, Request>, Error> {
    if request.method() != Method::POST || !request.headers().contains_key(&IDEMPOTENCY_KEY) {
        return Ok(Err(request));
    }
    let pattern = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or_default();
    let proxied = route::find(Verb::Post, pattern).is_some_and(|r| r.service != Service::Gateway);
    let Some(tenant_id) = request.extensions().get::<Caller>().map(|c| c.tenant_id.clone()) else {
        return Ok(Err(request));
    };
    if !proxied {
        return Ok(Err(request));
    }
    let pattern = pattern.to_string();
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
    let claim = ClaimRequest {
        key: cache.redis.key(&["idempotency", &tenant_id, &scope]),
        token: claim_token()?,
        fingerprint,
        lifetime_ms: millis(cache.lock),
    };
    Ok(Ok(Covered { request: Request::from_parts(parts, Body::from(body)), claim }))
}

/// Runs a covered request whose claim was made (`claimed` is its outcome, `None` when Redis
/// could not be asked): the first request runs and its response is kept; a repeat gets the
/// kept response, or 409/422 when the key is in flight or was used for another request.
pub async fn run_claimed(
    cache: ReplayCache,
    covered: Covered,
    claimed: Option<Claim>,
    next: Next,
) -> Result<Response, Error> {
    let Covered { request, claim } = covered;
    let record = match claimed {
        None => return Err(Error::IdempotencyUnavailable),
        Some(Claim::Held(record)) => record,
        Some(Claim::Claimed) => {
            let guard = ClaimGuard { cache, key: claim.key, token: claim.token, armed: true };
            let response = next.run(request).await;
            return Ok(finish(guard, response).await);
        }
    };
    match idempotency::judge(record, &claim.fingerprint) {
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
