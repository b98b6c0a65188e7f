//! AEX gateway: the only door into AEX: tenants, API keys, JWT, scopes, rate limits, idempotency and routing.
//!
//! `router` builds the HTTP API from its state; `run` starts the whole service on a listener,
//! so tests run the real application on `127.0.0.1:0`.

mod config;
mod redis_pool;

pub use config::Config;

use aex_common::auth::ServiceTokens;
use aex_common::runtime::{Platform, PlatformSpec, StartError};
use axum::Router;
use axum::extract::FromRef;
use redis_pool::Redis;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The service's name in logs, metrics and traces.
pub const SERVICE: &str = "gateway";
/// The standard port of the service.
pub const DEFAULT_PORT: u16 = 8080;
/// The schema this service owns.
pub const SCHEMA: &str = "gateway";

/// Migrations of the `gateway` schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/gateway");

/// What handlers share.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub tokens: ServiceTokens,
}

/// The service's own routes (the operational ones are added by the platform).
pub fn router(state: AppState) -> Router {
    Router::new().with_state(state)
}

/// Runs the service on `listener` until `shutdown` is cancelled.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartError> {
    let spec = PlatformSpec {
        name: SERVICE,
        default_schema: SCHEMA,
        migrator: &MIGRATOR,
        db: &config.db,
        nats: &config.nats,
        tokens: &config.tokens,
    };
    let redis = Redis::new(config.redis_url.expose())
        .map_err(|_| StartError::Config("REDIS_URL is not a valid Redis URL".into()))?;
    let platform = Platform::start(spec, shutdown).await?;
    let state = AppState { pool: platform.pool.clone(), tokens: platform.tokens.clone() };
    platform.serve(listener, router(state), &config.service, vec![Arc::new(redis)]).await
}
