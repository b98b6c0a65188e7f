//! AEX bid-evaluator: scoring, disqualification and ranking of bids.
//!
//! `router` builds the HTTP API from its state; `run` starts the whole service on a listener,
//! so tests run the real application on `127.0.0.1:0`.

mod config;
pub mod domain;

pub use config::Config;

use aex_common::auth::ServiceTokens;
use aex_common::runtime::{Platform, PlatformSpec, StartError};
use axum::Router;
use axum::extract::FromRef;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The service's name in logs, metrics and traces.
pub const SERVICE: &str = "bid-evaluator";
/// The standard port of the service.
pub const DEFAULT_PORT: u16 = 8083;
/// The schema this service owns.
pub const SCHEMA: &str = "bid_evaluator";

/// Migrations of the `bid_evaluator` schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/bid_evaluator");

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
    let platform = Platform::start(spec, shutdown).await?;
    let state = AppState { pool: platform.pool.clone(), tokens: platform.tokens.clone() };
    platform.serve(listener, router(state), &config.service, Vec::new()).await
}
