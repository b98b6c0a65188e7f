//! Rate-limit rules: which class a route belongs to, a tenant's quotas, the cold-start
//! halving, and the GCRA decision itself. The Redis script (`ratelimit/gcra.lua`) computes
//! exactly the same decision in one round trip; the in-process fallback uses this function.
//!
//! GCRA ("generic cell rate algorithm") is a token bucket kept as one number per bucket, the
//! theoretical arrival time (TAT) of the next request: a quota of `per_minute` requests a
//! minute plus `burst` admits `per_minute + burst` requests at once (the bucket's capacity,
//! reported as `X-RateLimit-Limit`) and then one every `60 s / per_minute`.

use super::route::Verb;
use std::time::Duration;

/// Microseconds in a minute.
const MINUTE_US: u64 = 60_000_000;

/// How a route is limited and how it behaves when the shared store is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// GET/HEAD: fails open to the in-process limiter.
    Read,
    /// Other writes: fail open to the in-process limiter too; a write that
    /// carries an `Idempotency-Key` still needs Redis for the replay cache.
    Write,
    /// Moves money: an extra, tighter per-tenant bucket, and fails closed (503).
    Money,
}

/// Routes that move money (and so have their own tighter bucket), by method and pattern.
pub const MONEY_ROUTES: [(Verb, &str); 4] = [
    (Verb::Post, "/v1/deposits"),
    (Verb::Post, "/v1/withdrawals"),
    (Verb::Post, "/v1/transfers"),
    (Verb::Post, "/v1/work/{id}/award"),
];

/// The class of a matched route (`pattern` is the route pattern, not the raw path).
pub fn classify(method: &str, pattern: &str) -> RouteClass {
    match Verb::parse(method) {
        Some(verb) if MONEY_ROUTES.contains(&(verb, pattern)) => RouteClass::Money,
        _ if method == "GET" || method == "HEAD" => RouteClass::Read,
        _ => RouteClass::Write,
    }
}

/// A tenant's overrides of the gateway's default quotas (`NULL` columns: the defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantOverrides {
    pub per_minute: Option<i32>,
    pub burst: Option<i32>,
    pub money_per_minute: Option<i32>,
}

/// A bucket's quota: a sustained rate per minute plus a burst on top of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub per_minute: u32,
    pub burst: u32,
}

impl Quota {
    /// Zero rates are refused by configuration and by the database; treated as 1 here so the
    /// arithmetic cannot divide by zero whatever reaches it.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self { per_minute: per_minute.max(1), burst }
    }

    /// A tenant override from the database (`NULL` or out-of-range values keep the default).
    pub fn with_overrides(self, per_minute: Option<i32>, burst: Option<i32>) -> Self {
        let positive = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok());
        Self::new(
            positive(per_minute).filter(|v| *v > 0).unwrap_or(self.per_minute),
            positive(burst).unwrap_or(self.burst),
        )
    }

    /// The cold-start quota: half the rate and half the burst (at least one request a minute).
    pub fn halved(self) -> Self {
        Self::new((self.per_minute / 2).max(1), self.burst / 2)
    }

    /// Requests admitted at once from a full bucket.
    pub fn capacity(self) -> u64 {
        u64::from(self.per_minute) + u64::from(self.burst)
    }

    /// Microseconds between two requests at the sustained rate (rounded up: never faster).
    pub fn interval_us(self) -> u64 {
        MINUTE_US.div_ceil(u64::from(self.per_minute.max(1)))
    }
}

/// One bucket's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The bucket's capacity (`X-RateLimit-Limit`).
    pub limit: u64,
    /// Requests still admitted at once after this one (`X-RateLimit-Remaining`).
    pub remaining: u64,
    /// Until the bucket is full again (`X-RateLimit-Reset`, in seconds rounded up).
    pub reset: Duration,
    /// Until a refused request would be admitted (`Retry-After`); zero when allowed.
    pub retry_after: Duration,
}

/// Decides one request against one bucket whose stored TAT is `tat_us` (absent: a full
/// bucket) at time `now_us`. Returns the decision and, when allowed, the TAT to store.
pub fn gcra(tat_us: Option<u64>, now_us: u64, quota: Quota) -> (Decision, Option<u64>) {
    let interval = quota.interval_us();
    let tolerance = quota.capacity().saturating_mul(interval);
    let tat = tat_us.unwrap_or(now_us).max(now_us);
    let new_tat = tat.saturating_add(interval);
    let ahead = new_tat - now_us;
    if ahead > tolerance {
        let decision = Decision {
            allowed: false,
            limit: quota.capacity(),
            remaining: 0,
            reset: Duration::from_micros(tat - now_us),
            retry_after: Duration::from_micros(ahead - tolerance),
        };
        return (decision, None);
    }
    let decision = Decision {
        allowed: true,
        limit: quota.capacity(),
        remaining: (tolerance - ahead) / interval,
        reset: Duration::from_micros(ahead),
        retry_after: Duration::ZERO,
    };
    (decision, Some(new_tat))
}

/// Of several buckets a request must pass, the one its headers report: a refusing bucket
/// (the longest wait), otherwise the one with the fewest requests left.
pub fn binding(decisions: &[Decision]) -> Option<Decision> {
    let refused = decisions.iter().filter(|d| !d.allowed).max_by_key(|d| d.retry_after);
    refused.or_else(|| decisions.iter().min_by_key(|d| d.remaining)).copied()
}

/// Whole seconds, rounded up, as headers carry them.
pub fn ceil_seconds(duration: Duration) -> u64 {
    let seconds = duration.as_secs();
    if duration.subsec_nanos() > 0 { seconds + 1 } else { seconds }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn money_routes_are_classified_by_pattern() {
        assert_eq!(classify("POST", "/v1/deposits"), RouteClass::Money);
        assert_eq!(classify("POST", "/v1/work/{id}/award"), RouteClass::Money);
        assert_eq!(classify("POST", "/v1/work/{id}/cancel"), RouteClass::Write);
        assert_eq!(classify("GET", "/v1/balance"), RouteClass::Read);
        assert_eq!(classify("HEAD", "/v1/balance"), RouteClass::Read);
        assert_eq!(classify("DELETE", "/v1/certificates/{id}"), RouteClass::Write);
        for (verb, pattern) in MONEY_ROUTES {
            assert!(super::super::route::find(verb, pattern).is_some(), "{pattern} is in the route table");
        }
    }

    #[test]
    fn a_full_bucket_admits_rate_plus_burst_then_one_per_interval() {
        let quota = Quota::new(10, 2);
        let now = 1_000_000_000;
        let mut tat = None;
        for n in 0..12 {
            let (decision, next) = gcra(tat, now, quota);
            assert!(decision.allowed, "request {n}");
            assert_eq!(decision.remaining, 11 - n);
            assert_eq!(decision.limit, 12);
            tat = next;
        }
        let (refused, none) = gcra(tat, now, quota);
        assert!(!refused.allowed);
        assert_eq!(none, None);
        assert_eq!(refused.retry_after, Duration::from_secs(6), "one request every 6 s");
        assert_eq!(refused.reset, Duration::from_secs(72));
        let (later, _) = gcra(tat, now + 6_000_000, quota);
        assert!(later.allowed);
    }

    #[test]
    fn cold_start_halves_rate_and_burst() {
        assert_eq!(Quota::new(1000, 50).halved(), Quota::new(500, 25));
        assert_eq!(Quota::new(10, 0).halved().capacity(), 5);
        assert_eq!(Quota::new(1, 1).halved(), Quota::new(1, 0));
    }

    #[test]
    fn overrides_replace_defaults_only_when_valid() {
        let default = Quota::new(1000, 50);
        assert_eq!(default.with_overrides(Some(10), Some(0)), Quota::new(10, 0));
        assert_eq!(default.with_overrides(None, None), default);
        assert_eq!(default.with_overrides(Some(0), Some(-1)), default);
    }

    #[test]
    fn the_binding_bucket_is_the_refusing_or_the_tightest() {
        let open =
            Decision { allowed: true, limit: 1050, remaining: 900, reset: Duration::ZERO, retry_after: Duration::ZERO };
        let tight = Decision { limit: 130, remaining: 3, ..open };
        let refused = Decision { allowed: false, remaining: 0, retry_after: Duration::from_secs(2), ..tight };
        assert_eq!(binding(&[open, tight]), Some(tight));
        assert_eq!(binding(&[open, refused]), Some(refused));
        assert_eq!(binding(&[]), None);
        assert_eq!(ceil_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(ceil_seconds(Duration::from_secs(3)), 3);
    }

    proptest! {
        /// Over any window of arrivals, GCRA never admits more than capacity + elapsed/interval.
        #[test]
        fn never_admits_more_than_the_quota(per_minute in 1u32..5000, burst in 0u32..100,
                                            gaps in proptest::collection::vec(0u64..200_000, 1..400)) {
            let quota = Quota::new(per_minute, burst);
            let start = 5_000_000_000u64;
            let mut now = start;
            let mut tat = None;
            let mut admitted = 0u64;
            for gap in gaps {
                now += gap;
                let (decision, next) = gcra(tat, now, quota);
                prop_assert!(decision.remaining < decision.limit);
                if decision.allowed {
                    admitted += 1;
                    tat = next;
                } else {
                    prop_assert!(decision.retry_after > Duration::ZERO);
                }
            }
            prop_assert!(admitted <= quota.capacity() + (now - start) / quota.interval_us());
        }
    }
}
