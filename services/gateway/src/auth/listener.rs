//! Receives credential invalidations (`NOTIFY aex_gateway_credentials`: a key hash or a tenant
//! id, sent when a key is created, rotated or revoked or a tenant changes status) and evicts
//! them from this replica's cache, the negative cache included. While disconnected the cache
//! is bypassed, so a missed notification can never keep a revoked key alive or a created key
//! refused.

use super::cache::CredentialCache;
use crate::store::CREDENTIALS_CHANNEL;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Runs until `shutdown`: listen, evict on each notification, reconnect on failure.
pub async fn run(pool: PgPool, cache: Arc<CredentialCache>, shutdown: CancellationToken) {
    loop {
        match listen_once(&pool, &cache, &shutdown).await {
            Ok(()) => return,
            Err(error) => {
                metrics::counter!("aex_gateway_credential_listener_errors_total").increment(1);
                tracing::warn!(task = "credential_listener", %error, "credential listener disconnected; cache bypassed");
            }
        }
        cache.set_listening(false);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(RECONNECT_DELAY) => {}
        }
    }
}

/// One connection's life; `Ok` only on shutdown.
async fn listen_once(pool: &PgPool, cache: &CredentialCache, shutdown: &CancellationToken) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CREDENTIALS_CHANNEL).await?;
    cache.set_listening(true);
    tracing::debug!(task = "credential_listener", "listening for credential invalidations");
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            received = listener.try_recv() => match received? {
                Some(notification) => cache.evict(notification.payload()),
                // The connection dropped: notifications may have been missed.
                None => return Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "listener connection lost",
                ))),
            },
        }
    }
}

/// Readiness: `credential_events` is unavailable while invalidations cannot be received (the
/// gateway still serves, reading credentials from Postgres on every request).
#[derive(Debug, Clone)]
pub struct ListenerReadiness(pub Arc<CredentialCache>);

impl aex_common::server::ReadinessCheck for ListenerReadiness {
    fn name(&self) -> &'static str {
        "credential_events"
    }

    fn check(&self) -> futures::future::BoxFuture<'_, Result<(), String>> {
        let listening = self.0.is_listening();
        Box::pin(async move { if listening { Ok(()) } else { Err("not listening".to_string()) } })
    }
}
