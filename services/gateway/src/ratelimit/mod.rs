//! Per-tenant rate limits, shared by every gateway replica through Redis.
//!
//! Each authenticated request is checked in one Redis round trip (`gcra.lua`) against its
//! tenant's bucket and, on money routes, also the tenant's money bucket; a request to an
//! unauthenticated route is checked against its client address's bucket:
//!
//! - `<prefix>ratelimit:<tenant_id>` and `<prefix>ratelimit:<tenant_id>:money` hold the
//!   buckets' theoretical arrival times (µs, Redis clock), expiring once the bucket is full;
//! - `<prefix>ratelimit:anon:<address>` the same for an unauthenticated client. The address is
//!   the connection's peer, or with `--trusted-proxy-hops N` the entry of `X-Forwarded-For`
//!   that the outermost trusted proxy appended;
//! - `<prefix>ratelimit:first_seen` holds when this Redis first served a rate-limit check.
//!   It is set with `SET NX` by the script, so a fresh or emptied Redis (restart without
//!   persistence, flush, failover to an empty replica) is detected by its absence, and for
//!   the cold-start window every quota is halved.
//!
//! When Redis is unavailable: reads and non-money writes fall back to the in-process
//! limiter (logged at most every [`FALLBACK_LOG_INTERVAL`], counted in
//! `aex_ratelimit_fallback_total`); money routes answer 503 `RATE_LIMIT_UNAVAILABLE`.
//! When too many Redis calls are in flight, every class answers 429 `SERVICE_OVERLOADED`.

mod fallback;

use crate::AppState;
use crate::auth::Caller;
use crate::config::LimitArgs;
use crate::domain::ratelimit::{self, Decision, Quota, RouteClass};
use crate::error::Error;
use crate::idempotency::{Claim, ClaimRequest};
use crate::redis_pool::{Redis, RedisFailure};
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use fallback::FallbackLimiter;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub static X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub static X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub static X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// At most one warning per interval while the fallback is in use.
const FALLBACK_LOG_INTERVAL: Duration = Duration::from_secs(10);

static SCRIPT: &str = include_str!("gcra.lua");

/// Why a request could not be decided against the shared budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undecided {
    Overloaded,
    /// Redis unavailable on a route that fails closed.
    Unavailable,
}

/// The gateway's rate limiter; cheap to clone (middleware state is cloned per request).
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Limiter>,
}

/// What a [`RateLimiter`] shares between its clones.
pub struct Limiter {
    redis: Redis,
    script: redis::Script,
    first_seen_key: String,
    general: Quota,
    money: Quota,
    anonymous: Quota,
    trusted_proxy_hops: usize,
    cold_start: Duration,
    fallback: FallbackLimiter,
    epoch: Instant,
    last_fallback_log_s: AtomicU64,
}

impl std::ops::Deref for RateLimiter {
    type Target = Limiter;

    fn deref(&self) -> &Limiter {
        &self.inner
    }
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("general", &self.general)
            .field("money", &self.money)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    pub fn new(redis: Redis, args: &LimitArgs) -> Self {
        let limiter = Limiter {
            first_seen_key: redis.key(&["ratelimit", "first_seen"]),
            redis,
            script: redis::Script::new(SCRIPT),
            general: Quota::new(args.per_minute, args.burst),
            money: Quota::new(args.money_per_minute, args.money_burst),
            anonymous: Quota::new(args.anonymous_per_minute, args.anonymous_burst),
            trusted_proxy_hops: usize::from(args.trusted_proxy_hops),
            cold_start: Duration::from_secs(args.cold_start_seconds),
            fallback: FallbackLimiter::default(),
            epoch: Instant::now(),
            last_fallback_log_s: AtomicU64::new(0),
        };
        Self { inner: Arc::new(limiter) }
    }

    /// The buckets a request of `class` by `caller` must pass: (key, quota).
    fn buckets(&self, caller: &Caller, class: RouteClass) -> Vec<(String, Quota)> {
        let overrides = caller.overrides;
        let mut buckets = vec![(
            self.redis.key(&["ratelimit", &caller.tenant_id]),
            self.general.with_overrides(overrides.per_minute, overrides.burst),
        )];
        if class == RouteClass::Money {
            buckets.push((
                self.redis.key(&["ratelimit", &caller.tenant_id, "money"]),
                self.money.with_overrides(overrides.money_per_minute, None),
            ));
        }
        buckets
    }

    /// Decides one request; the decision reported is the binding bucket's. With `claim`, an
    /// admitted request also claims its idempotency key in the same round trip; the claim's
    /// outcome is `None` when Redis could not be asked (the in-process fallback decided).
    pub async fn check(
        &self,
        caller: &Caller,
        class: RouteClass,
        claim: Option<&ClaimRequest>,
    ) -> Result<(Decision, Option<Claim>), Undecided> {
        self.decide(self.buckets(caller, class), class, claim).await
    }

    /// Decides one unauthenticated request from `client` (its address, or `unknown`).
    pub async fn check_anonymous(&self, client: &str) -> Result<Decision, Undecided> {
        let bucket = (self.redis.key(&["ratelimit", "anon", client]), self.anonymous);
        Ok(self.decide(vec![bucket], RouteClass::Read, None).await?.0)
    }

    /// The client address of a request, as the gateway can trust it (unauthenticated routes
    /// are limited by it, failed authentication is charged to it).
    pub fn client_address(&self, extensions: &Extensions, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        if self.trusted_proxy_hops == 0 {
            return peer;
        }
        forwarded_client(headers, self.trusted_proxy_hops).or(peer)
    }

    async fn decide(
        &self,
        buckets: Vec<(String, Quota)>,
        class: RouteClass,
        claim: Option<&ClaimRequest>,
    ) -> Result<(Decision, Option<Claim>), Undecided> {
        match self.check_shared(&buckets, claim).await {
            Ok(decided) => Ok(decided),
            Err(RedisFailure::Overloaded) => Err(Undecided::Overloaded),
            Err(RedisFailure::Unavailable) if class == RouteClass::Money => {
                metrics::counter!("aex_ratelimit_unavailable_total").increment(1);
                Err(Undecided::Unavailable)
            }
            Err(RedisFailure::Unavailable) => {
                self.note_fallback(class);
                let local: Vec<(&str, Quota)> = buckets.iter().map(|(key, quota)| (key.as_str(), *quota)).collect();
                let decision = ratelimit::binding(&self.fallback.check(&local)).ok_or(Undecided::Unavailable)?;
                Ok((decision, None))
            }
        }
    }

    async fn check_shared(
        &self,
        buckets: &[(String, Quota)],
        claim: Option<&ClaimRequest>,
    ) -> Result<(Decision, Option<Claim>), RedisFailure> {
        let mut invocation = self.script.prepare_invoke();
        invocation.key(&self.first_seen_key);
        for (key, _) in buckets {
            invocation.key(key);
        }
        invocation.arg(u64::try_from(self.cold_start.as_micros()).unwrap_or(u64::MAX)).arg(buckets.len());
        for (_, quota) in buckets {
            invocation.arg(quota.per_minute).arg(quota.burst);
        }
        if let Some(claim) = claim {
            invocation.key(&claim.key).arg(&claim.token).arg(&claim.fingerprint).arg(claim.lifetime_ms);
        }
        let invocation = &invocation;
        let reply: Vec<redis::Value> =
            self.redis.run(|mut connection| async move { invocation.invoke_async(&mut connection).await }).await?;
        let unexpected = || {
            tracing::error!(?reply, "unexpected reply from the rate-limit script");
            RedisFailure::Unavailable
        };
        let (decisions, rest) = parse_reply(&reply, buckets.len()).ok_or_else(unexpected)?;
        let decision = ratelimit::binding(&decisions).ok_or(RedisFailure::Unavailable)?;
        let claimed = match (claim, decision.allowed) {
            (Some(_), true) => Some(crate::idempotency::parse_claim(rest).ok_or_else(unexpected)?),
            _ => None,
        };
        Ok((decision, claimed))
    }

    fn note_fallback(&self, class: RouteClass) {
        let label = if class == RouteClass::Read { "read" } else { "write" };
        metrics::counter!("aex_ratelimit_fallback_total", "class" => label).increment(1);
        let now_s = self.epoch.elapsed().as_secs() + FALLBACK_LOG_INTERVAL.as_secs();
        let last = self.last_fallback_log_s.load(Ordering::Relaxed);
        if now_s >= last + FALLBACK_LOG_INTERVAL.as_secs()
            && self.last_fallback_log_s.compare_exchange(last, now_s, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            tracing::warn!("redis unavailable: rate limits fall back to this replica's in-process limiter");
        }
    }
}

/// The client address of a request as [`RateLimiter::client_address`] resolves it, for
/// handlers that charge it (the token exchange).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(state.limiter.client_address(&parts.extensions, &parts.headers)))
    }
}

/// The address the outermost of `hops` trusted proxies appended to `X-Forwarded-For` (each
/// proxy appends the peer it saw, so the entry `hops` from the right is the first one no
/// client could forge); `None` when the header is missing, short or malformed.
fn forwarded_client(headers: &HeaderMap, hops: usize) -> Option<IpAddr> {
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let at = entries.len().checked_sub(hops)?;
    entries.get(at)?.parse().ok()
}

/// `{allowed, cold, then per bucket: capacity, remaining, reset µs, retry µs}`, and what
/// follows (a claim's outcome).
fn parse_reply(reply: &[redis::Value], buckets: usize) -> Option<(Vec<Decision>, &[redis::Value])> {
    let figures = 2 + 4 * buckets;
    if reply.len() < figures {
        return None;
    }
    let (head, rest) = reply.split_at(figures);
    let numbers: Vec<i64> =
        head.iter().map(|v| if let redis::Value::Int(n) = v { Some(*n) } else { None }).collect::<Option<_>>()?;
    let allowed = numbers[0] == 1;
    let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
    let count = |v: i64| u64::try_from(v).unwrap_or(0);
    let decisions = numbers[2..]
        .chunks_exact(4)
        .map(|b| Decision {
            // The request is admitted only if every bucket admits it.
            allowed,
            limit: count(b[0]),
            remaining: count(b[1]),
            reset: micros(b[2]),
            retry_after: micros(b[3]),
        })
        .collect();
    Some((decisions, rest))
}

/// The class of a matched route: read, write or money.
pub fn class_of(request: &Request) -> RouteClass {
    let pattern = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("");
    ratelimit::classify(request.method().as_str(), pattern)
}

/// Decides a request of `class` (after authentication, before the scope check) against its
/// caller's buckets, or on a public route its client address's. `Err` is the answer when no
/// decision could be made: 429 `SERVICE_OVERLOADED`, or 503 on money routes without Redis.
pub async fn admit(
    limiter: &RateLimiter,
    class: RouteClass,
    caller: Option<&Caller>,
    client: Option<IpAddr>,
    claim: Option<&ClaimRequest>,
) -> Result<(Decision, Option<Claim>), Response> {
    let checked = match caller {
        Some(caller) => limiter.check(caller, class, claim).await,
        // Public routes: no tenant to charge, so the client's address is.
        None => {
            let client = client.map(|ip| ip.to_string());
            limiter.check_anonymous(client.as_deref().unwrap_or("unknown")).await.map(|decision| (decision, None))
        }
    };
    checked.map_err(|undecided| match undecided {
        Undecided::Overloaded => Error::Overloaded.into_response(),
        Undecided::Unavailable => Error::RateLimitUnavailable.into_response(),
    })
}

/// The `X-RateLimit-*` headers of a decision.
pub fn set_headers(headers: &mut HeaderMap, decision: &Decision) {
    headers.insert(X_RATELIMIT_LIMIT.clone(), HeaderValue::from(decision.limit));
    headers.insert(X_RATELIMIT_REMAINING.clone(), HeaderValue::from(decision.remaining));
    headers.insert(X_RATELIMIT_RESET.clone(), HeaderValue::from(ratelimit::ceil_seconds(decision.reset)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trusted_forwarded_address_is_the_one_the_outermost_proxy_appended() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.7"));
        headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.2"));
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        assert_eq!(forwarded_client(&headers, 1), ip("10.0.0.2"));
        assert_eq!(forwarded_client(&headers, 2), ip("203.0.113.7"));
        assert_eq!(forwarded_client(&headers, 3), ip("6.6.6.6"), "as far as the trusted hops reach");
        assert_eq!(forwarded_client(&headers, 4), None, "fewer entries than trusted proxies");
        let mut forged = HeaderMap::new();
        forged.insert("x-forwarded-for", HeaderValue::from_static("not-an-ip"));
        assert_eq!(forwarded_client(&forged, 1), None);
        assert_eq!(forwarded_client(&HeaderMap::new(), 1), None);
    }

    #[test]
    fn script_replies_parse_into_decisions() {
        let ints = |values: &[i64]| values.iter().map(|v| redis::Value::Int(*v)).collect::<Vec<_>>();
        let reply = ints(&[1, 0, 1050, 1049, 60_000, 0, 130, 129, 500_000, 0]);
        let (allowed, rest) = parse_reply(&reply, 2).unwrap_or_default();
        assert_eq!(allowed.len(), 2);
        assert!(rest.is_empty());
        assert!(allowed.iter().all(|d| d.allowed));
        assert_eq!(ratelimit::binding(&allowed).map(|d| d.limit), Some(130));
        let reply = ints(&[0, 1, 525, 3, 60_000, 0, 65, 0, 500_000, 900_000]);
        let (refused, _) = parse_reply(&reply, 2).unwrap_or_default();
        assert!(refused.iter().all(|d| !d.allowed), "one refusing bucket refuses the request");
        let binding = ratelimit::binding(&refused).unwrap_or_else(|| panic!("a decision"));
        assert_eq!(binding.retry_after, Duration::from_millis(900));
        assert_eq!(parse_reply(&ints(&[1, 0, 1]), 1), None);
        // A claim's outcome follows the figures.
        let mut claimed = ints(&[1, 0, 10, 9, 6_000_000, 0]);
        claimed.push(redis::Value::BulkString(b"claimed".to_vec()));
        let (_, rest) = parse_reply(&claimed, 1).unwrap_or_default();
        assert_eq!(rest.len(), 1);
        let mut text = ints(&[1, 0]);
        text.extend(ints(&[10, 9, 6_000_000]));
        text.push(redis::Value::BulkString(b"0".to_vec()));
        assert_eq!(parse_reply(&text, 1), None, "figures are integers");
    }
}
