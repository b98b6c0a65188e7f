//! Failed authentication, counted per client address and per API key prefix in Redis (shared
//! by every replica), so guessing keys is refused with 429 `AUTHENTICATION_THROTTLED` before
//! it costs a database lookup.
//!
//! - `<prefix>authfail:addr:<address>` and `<prefix>authfail:prefix:<aexk_…>` count, per fixed
//!   one-minute window, failed attempts plus lookups in flight (`charge.lua` charges before a
//!   lookup, `refund.lua` gives the charge back when the key is good);
//! - an address that has spent its budget is also remembered by this replica until its window
//!   ends, so its next requests — with a good key too — are refused without a Redis call;
//! - with Redis unavailable or overloaded, the same windows are kept in this replica's memory
//!   (`aex_gateway_auth_throttle_fallback_total`): N replicas then allow N budgets.

use crate::config::LimitArgs;
use crate::domain::throttle::{self, Charge, Counter, Window};
use crate::error::Error;
use crate::redis_pool::Redis;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Bounds the memory of the in-process windows and of the refused addresses.
const MAX_TRACKED: usize = 100_000;

/// The failed-authentication throttle; cheap to clone.
#[derive(Clone)]
pub struct FailureThrottle {
    inner: Arc<Inner>,
}

struct Inner {
    redis: Redis,
    charge: redis::Script,
    refund: redis::Script,
    per_address: u32,
    per_prefix: u32,
    /// Addresses known to have spent their budget, and until when.
    spent: RwLock<HashMap<String, Instant>>,
    /// Whether `spent` may hold anything: the common case skips its lock.
    any_spent: AtomicBool,
    fallback: Mutex<HashMap<String, Window>>,
}

impl std::fmt::Debug for FailureThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailureThrottle")
            .field("per_address", &self.inner.per_address)
            .field("per_prefix", &self.inner.per_prefix)
            .finish_non_exhaustive()
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl FailureThrottle {
    pub fn new(redis: Redis, args: &LimitArgs) -> Self {
        Self {
            inner: Arc::new(Inner {
                redis,
                charge: redis::Script::new(include_str!("charge.lua")),
                refund: redis::Script::new(include_str!("refund.lua")),
                per_address: args.auth_failures_per_minute,
                per_prefix: args.auth_failures_per_key_prefix_per_minute,
                spent: RwLock::new(HashMap::new()),
                any_spent: AtomicBool::new(false),
                fallback: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Refuses at once an address this replica knows to have spent its budget.
    pub fn check_address(&self, address: &str) -> Result<(), Error> {
        let inner = &self.inner;
        if !inner.any_spent.load(Ordering::Acquire) {
            return Ok(());
        }
        let until = inner.spent.read().unwrap_or_else(|e| e.into_inner()).get(address).copied();
        match until.and_then(|until| until.checked_duration_since(Instant::now())) {
            Some(left) if !left.is_zero() => Err(refused(Counter::Address, left)),
            _ => Ok(()),
        }
    }

    /// Charges one attempt whose credential is not known to be good to `address` and, for an
    /// API key, its display prefix; past a budget nothing is charged and the answer is 429.
    pub async fn charge(&self, address: &str, key_prefix: Option<&str>) -> Result<(), Error> {
        let keys = self.keys(address, key_prefix);
        let charged = match self.charge_shared(&keys).await {
            Some(charged) => charged,
            None => {
                metrics::counter!("aex_gateway_auth_throttle_fallback_total").increment(1);
                let counters = self.counters(&keys);
                let mut windows = self.inner.fallback.lock().unwrap_or_else(|e| e.into_inner());
                bound(&mut windows, |w| Instant::now().saturating_duration_since(w.started) < throttle::WINDOW);
                throttle::charge_windows(&mut windows, &counters, Instant::now())
            }
        };
        match charged {
            Charge::Admitted { address_spent_for: None } => Ok(()),
            Charge::Admitted { address_spent_for: Some(left) } => {
                self.remember_spent(address, left);
                Ok(())
            }
            Charge::Refused { counter, retry_after } => {
                if counter == Counter::Address {
                    self.remember_spent(address, retry_after);
                }
                Err(refused(counter, retry_after))
            }
        }
    }

    /// Gives back a charge: the credential was good (or the lookup failed on our side).
    pub async fn refund(&self, address: &str, key_prefix: Option<&str>) {
        let keys = self.keys(address, key_prefix);
        let mut invocation = self.inner.refund.prepare_invoke();
        for key in &keys {
            invocation.key(key);
        }
        let invocation = &invocation;
        let shared: Result<i64, _> =
            self.inner.redis.run(|mut connection| async move { invocation.invoke_async(&mut connection).await }).await;
        if shared.is_err() {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let mut windows = self.inner.fallback.lock().unwrap_or_else(|e| e.into_inner());
            throttle::refund_windows(&mut windows, &keys, Instant::now());
        }
    }

    fn keys(&self, address: &str, key_prefix: Option<&str>) -> Vec<String> {
        let redis = &self.inner.redis;
        let mut keys = vec![redis.key(&["authfail", "addr", address])];
        if let Some(prefix) = key_prefix {
            keys.push(redis.key(&["authfail", "prefix", prefix]));
        }
        keys
    }

    fn counters<'a>(&self, keys: &'a [String]) -> Vec<(&'a str, Counter, u32)> {
        let budgets = [(Counter::Address, self.inner.per_address), (Counter::KeyPrefix, self.inner.per_prefix)];
        keys.iter().zip(budgets).map(|(key, (counter, budget))| (key.as_str(), counter, budget)).collect()
    }

    /// The shared decision, or `None` when Redis cannot give it.
    async fn charge_shared(&self, keys: &[String]) -> Option<Charge> {
        let inner = &self.inner;
        let mut invocation = inner.charge.prepare_invoke();
        for key in keys {
            invocation.key(key);
        }
        invocation.arg(inner.per_address).arg(inner.per_prefix).arg(millis(throttle::WINDOW));
        let invocation = &invocation;
        let reply: Vec<i64> = inner
            .redis
            .run(|mut connection| async move { invocation.invoke_async(&mut connection).await })
            .await
            .ok()?;
        let left = |ms: i64| Duration::from_millis(u64::try_from(ms).unwrap_or(0));
        match reply.as_slice() {
            [1, count, window_left] => {
                let spent = u32::try_from(*count).is_ok_and(|count| count >= inner.per_address);
                Some(Charge::Admitted { address_spent_for: spent.then(|| left(*window_left)) })
            }
            [0, which, window_left] => {
                let counter = if *which == 1 { Counter::Address } else { Counter::KeyPrefix };
                Some(Charge::Refused { counter, retry_after: left(*window_left) })
            }
            _ => {
                tracing::error!(?reply, "unexpected reply from the authentication throttle script");
                None
            }
        }
    }

    fn remember_spent(&self, address: &str, left: Duration) {
        let until = Instant::now() + left;
        let mut spent = self.inner.spent.write().unwrap_or_else(|e| e.into_inner());
        bound(&mut spent, |until| *until > Instant::now());
        spent.insert(address.to_string(), until);
        self.inner.any_spent.store(true, Ordering::Release);
    }
}

/// Keeps `map` under [`MAX_TRACKED`]: drops entries no longer `live`, then everything.
fn bound<V>(map: &mut HashMap<String, V>, live: impl Fn(&V) -> bool) {
    if map.len() >= MAX_TRACKED {
        map.retain(|_, value| live(value));
        if map.len() >= MAX_TRACKED {
            map.clear();
        }
    }
}

fn refused(counter: Counter, retry_after: Duration) -> Error {
    metrics::counter!("aex_gateway_auth_throttled_total", "counter" => counter.as_str()).increment(1);
    Error::AuthenticationThrottled { retry_after }
}
