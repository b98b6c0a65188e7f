//! The in-process limiter used while Redis is unavailable: the same GCRA buckets, kept in
//! this replica's memory, so reads (and non-money writes) keep a bound per tenant. Each
//! replica enforces the full quota on its own, so N replicas admit up to N times the quota
//! until Redis is back; that is the price of failing open.

use crate::domain::ratelimit::{self, Decision, Quota};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Bounds memory under very many tenants; the buckets are simply emptied (all full again).
const MAX_BUCKETS: usize = 100_000;

#[derive(Debug)]
pub struct FallbackLimiter {
    epoch: Instant,
    buckets: Mutex<HashMap<String, u64>>,
}

impl Default for FallbackLimiter {
    fn default() -> Self {
        Self { epoch: Instant::now(), buckets: Mutex::new(HashMap::new()) }
    }
}

impl FallbackLimiter {
    /// Decides one request against `buckets` (key, quota): admitted only if all admit it,
    /// and only then charged, like the Redis script.
    pub fn check(&self, buckets: &[(&str, Quota)]) -> Vec<Decision> {
        let now = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut stored = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let outcomes: Vec<(Decision, Option<u64>)> =
            buckets.iter().map(|(key, quota)| ratelimit::gcra(stored.get(*key).copied(), now, *quota)).collect();
        if outcomes.iter().all(|(decision, _)| decision.allowed) {
            if stored.len() >= MAX_BUCKETS {
                stored.clear();
            }
            for ((key, _), (_, tat)) in buckets.iter().zip(&outcomes) {
                if let Some(tat) = tat {
                    stored.insert((*key).to_string(), *tat);
                }
            }
        }
        outcomes.into_iter().map(|(decision, _)| decision).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_the_capacity_and_charges_only_when_all_buckets_admit() {
        let limiter = FallbackLimiter::default();
        let general = Quota::new(100, 0);
        let money = Quota::new(2, 0);
        for _ in 0..2 {
            assert!(limiter.check(&[("t", general), ("t:money", money)]).iter().all(|d| d.allowed));
        }
        let refused = limiter.check(&[("t", general), ("t:money", money)]);
        assert!(refused[0].allowed && !refused[1].allowed);
        // The refused request did not charge the general bucket: 98 left after two.
        let read = limiter.check(&[("t", general)]);
        assert_eq!(read[0].remaining, 97);
    }
}
