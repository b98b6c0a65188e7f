//! When an outbound call may be re-sent, and how long to wait before it is.
//!
//! Only replayable requests are retried (safe methods and PUT/DELETE by definition, POST/PATCH
//! only when the caller marks them idempotent), and only after a transport error, a timeout, or
//! 408/429/502/503/504. A 500 is a bug downstream, not a blip: re-sending it only adds load.

use std::ops::RangeInclusive;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};

/// Header that makes a POST or PATCH replayable: the downstream deduplicates on it.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// How the random part of each backoff delay is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BackoffJitter {
    /// Uniform in `[0, cap]`: spreads retries the most, but a delay may be near zero.
    Full,
    /// Uniform in `[cap / 2, cap]`: keeps a guaranteed minimum wait that grows per retry.
    #[default]
    Equal,
}

/// Exponential backoff: retry `n` (0-based) waits within `min(max, base × 2ⁿ)` shaped by the jitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// Cap of the first retry's delay.
    pub base: Duration,
    /// Upper bound of every delay, and of an honoured `Retry-After`.
    pub max: Duration,
    /// How the delay is drawn below the cap.
    pub jitter: BackoffJitter,
}

impl Backoff {
    /// The range the delay before retry `retry` (0 = first retry) is drawn from.
    pub fn range(&self, retry: u32) -> RangeInclusive<Duration> {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        let cap = self.base.saturating_mul(factor).min(self.max);
        let low = match self.jitter {
            BackoffJitter::Full => Duration::ZERO,
            BackoffJitter::Equal => cap / 2,
        };
        low..=cap
    }

    /// Draws the delay before retry `retry`.
    pub fn delay(&self, retry: u32) -> Duration {
        let range = self.range(retry);
        let low = nanos(*range.start());
        let high = nanos(*range.end());
        Duration::from_nanos(fastrand::u64(low..=high.max(low)))
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Whether a request may be sent more than once. An explicit `idempotent` wins; otherwise
/// GET, HEAD, PUT, DELETE, OPTIONS and TRACE are, and POST/PATCH are when they carry an
/// `Idempotency-Key` header.
pub fn is_replayable(method: &Method, headers: &HeaderMap, idempotent: Option<bool>) -> bool {
    idempotent.unwrap_or_else(|| {
        matches!(*method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE)
            || headers.contains_key(IDEMPOTENCY_KEY)
    })
}

/// Answers worth retrying: the downstream is briefly unable, not refusing this request.
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::REQUEST_TIMEOUT
            | StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// Answers that count as failures for the circuit breaker: those that say the downstream
/// (or the proxy in front of it) is unwell — 502, 503 and 504. Transport errors and timeouts
/// count too (see the client). Nothing a caller's input can provoke counts: not a 4xx, not a
/// 429 (back-pressure, already honoured by the retry), and not a 500, which is a bug in how
/// the downstream handled one request — counting it would let one tenant's requests deny
/// service to every other tenant (ADR 0011).
pub fn is_breaker_failure(status: StatusCode) -> bool {
    matches!(status, StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT)
}

/// The delay asked for by a `Retry-After: <seconds>` header on a 429 or 503, if any.
/// (The HTTP-date form is ignored: the ordinary backoff applies.)
pub fn retry_after(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let seconds = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(seconds))
}
