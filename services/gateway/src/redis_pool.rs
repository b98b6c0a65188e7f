//! The gateway's Redis connection (shared counters for rate limits and the idempotency
//! replay cache), with explicit short timeouts, and its readiness check.

use futures::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;
use tokio::sync::OnceCell;

/// Redis timeouts are tens of milliseconds: a slow Redis must not stall requests.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(50);
const CONNECTION_TIMEOUT: Duration = Duration::from_millis(250);

/// A lazily connected Redis handle; the gateway starts and serves while Redis is down.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    manager: std::sync::Arc<OnceCell<ConnectionManager>>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").finish_non_exhaustive()
    }
}

impl Redis {
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self { client: redis::Client::open(url)?, manager: std::sync::Arc::new(OnceCell::new()) })
    }

    /// The shared connection, connecting on first use.
    pub async fn connection(&self) -> Result<ConnectionManager, redis::RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_number_of_retries(1);
        self.manager.get_or_try_init(|| ConnectionManager::new_with_config(self.client.clone(), config)).await.cloned()
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
