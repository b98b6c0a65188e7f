//! The gateway's Redis connection (shared counters for rate limits and the idempotency
//! replay cache), with explicit short timeouts, a bound on calls in flight, and its readiness
//! check.
//!
//! Every call is bounded twice: at most `max_in_flight` calls wait on Redis at once (more
//! answer [`RedisFailure::Overloaded`] at once, never queueing), and each call has a total
//! budget of [`CALL_BUDGET`] (connecting included). After a failure, calls fail fast for
//! [`FAIL_FAST`] so a dead Redis costs requests nothing while the fallbacks take over.

use futures::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, Semaphore};

/// Redis timeouts are tens of milliseconds: a slow Redis must not stall requests.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(50);
const CONNECTION_TIMEOUT: Duration = Duration::from_millis(50);
/// Longest a request waits on one Redis call, connecting and one retry included.
pub const CALL_BUDGET: Duration = Duration::from_millis(80);
/// How long calls fail fast after Redis failed.
const FAIL_FAST: Duration = Duration::from_millis(250);

/// Why a Redis call did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisFailure {
    /// Too many calls in flight: the caller is told to come back (429), never queued.
    Overloaded,
    /// Redis is down, timing out or answered an error.
    Unavailable,
}

/// A lazily connected Redis handle; the gateway starts and serves while Redis is down.
/// Cheap to clone (middleware state is cloned per request).
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    manager: OnceCell<ConnectionManager>,
    permits: Semaphore,
    /// Microseconds since `epoch` until which calls fail fast.
    failing_until_us: AtomicU64,
    epoch: Instant,
    prefix: String,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("prefix", &self.inner.prefix).finish_non_exhaustive()
    }
}

impl Redis {
    /// `prefix` starts every key the gateway writes (`aex:` by default), so deployments and
    /// tests sharing one Redis never share counters.
    pub fn new(url: &str, prefix: &str, max_in_flight: usize) -> Result<Self, redis::RedisError> {
        let inner = Inner {
            client: redis::Client::open(url)?,
            manager: OnceCell::new(),
            permits: Semaphore::new(max_in_flight),
            failing_until_us: AtomicU64::new(0),
            epoch: Instant::now(),
            prefix: prefix.to_string(),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// A key in the gateway's namespace: the prefix followed by `parts` joined with `:`.
    pub fn key(&self, parts: &[&str]) -> String {
        let prefix = &self.inner.prefix;
        let mut key = String::with_capacity(prefix.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>());
        key.push_str(prefix);
        key.push_str(&parts.join(":"));
        key
    }

    /// The shared connection, connecting on first use.
    async fn connection(&self) -> Result<ConnectionManager, redis::RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_min_delay(Duration::from_millis(5))
            .set_max_delay(Duration::from_millis(20))
            .set_number_of_retries(1);
        let inner = &self.inner;
        inner
            .manager
            .get_or_try_init(|| ConnectionManager::new_with_config(inner.client.clone(), config))
            .await
            .cloned()
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.inner.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Runs `call` on the connection within the in-flight bound and the time budget.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, RedisFailure>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if self.now_us() < self.inner.failing_until_us.load(Ordering::Relaxed) {
            return Err(RedisFailure::Unavailable);
        }
        let Ok(_permit) = self.inner.permits.try_acquire() else {
            metrics::counter!("aex_gateway_redis_errors_total", "kind" => "overloaded").increment(1);
            return Err(RedisFailure::Overloaded);
        };
        let outcome = tokio::time::timeout(CALL_BUDGET, async {
            let connection = self.connection().await?;
            call(connection).await
        })
        .await;
        let kind = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => {
                tracing::debug!(%error, "redis call failed");
                "error"
            }
            Err(_) => "timeout",
        };
        metrics::counter!("aex_gateway_redis_errors_total", "kind" => kind).increment(1);
        let until = self.now_us().saturating_add(u64::try_from(FAIL_FAST.as_micros()).unwrap_or(u64::MAX));
        self.inner.failing_until_us.fetch_max(until, Ordering::Relaxed);
        Err(RedisFailure::Unavailable)
    }
}

impl aex_common::server::ReadinessCheck for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let mut connection = self.connection().await.map_err(|_| "unreachable".to_string())?;
            let pong: String =
                redis::cmd("PING").query_async(&mut connection).await.map_err(|_| "not answering".to_string())?;
            if pong == "PONG" { Ok(()) } else { Err(format!("unexpected reply {pong}")) }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_exhausted_pool_answers_overloaded_at_once() {
        let redis = Redis::new("redis://127.0.0.1:1", "t:", 0).unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        let answer = redis.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await }).await;
        assert_eq!(answer, Err(RedisFailure::Overloaded));
        assert!(started.elapsed() < Duration::from_millis(20));
    }

    #[tokio::test]
    async fn an_unreachable_redis_fails_within_the_budget_then_fast() {
        let redis = Redis::new("redis://127.0.0.1:1", "t:", 4).unwrap_or_else(|e| panic!("{e}"));
        let ping = || redis.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await });
        let started = Instant::now();
        assert_eq!(ping().await, Err(RedisFailure::Unavailable));
        assert!(started.elapsed() < CALL_BUDGET + Duration::from_millis(50), "{:?}", started.elapsed());
        let started = Instant::now();
        assert_eq!(ping().await, Err(RedisFailure::Unavailable));
        assert!(started.elapsed() < Duration::from_millis(5), "fails fast after a failure");
    }

    #[test]
    fn keys_are_namespaced_by_the_prefix() {
        let redis = Redis::new("redis://127.0.0.1:6379", "aex:", 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(redis.key(&["ratelimit", "tenant_1", "money"]), "aex:ratelimit:tenant_1:money");
    }
}
