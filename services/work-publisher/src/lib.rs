//! AEX work-publisher: providers, subscriptions, work, sealed bids, bid windows and contracts.
//!
//! `router` builds the HTTP API from its state; `run` starts the whole service on a listener,
//! so tests run the real application on `127.0.0.1:0`.

mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod service;
pub mod store;
pub mod timers;

pub use config::Config;

use aex_common::auth::ServiceTokens;
use aex_common::runtime::{Platform, PlatformSpec, StartError};
use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use sqlx::PgPool;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The service's name in logs, metrics and traces.
pub const SERVICE: &str = "work-publisher";
/// The standard port of the service.
pub const DEFAULT_PORT: u16 = 8081;
/// The schema this service owns.
pub const SCHEMA: &str = "work_publisher";

/// Longest wait between two sweeps of the bid-window closer.
pub const BID_WINDOW_POLL: Duration = Duration::from_millis(200);

/// Migrations of the `work_publisher` schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/work_publisher");

/// What handlers share.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub tokens: ServiceTokens,
}

/// The service's own routes (the operational ones are added by the platform).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/providers", post(http::providers::create).get(http::providers::list_own))
        .route("/v1/providers/search", get(http::providers::search))
        .route("/v1/providers/{id}", get(http::providers::get))
        .route("/v1/subscriptions", post(http::subscriptions::create).get(http::subscriptions::list))
        .route("/v1/work", post(http::work::submit).get(http::work::list))
        .route("/v1/work/{id}", get(http::work::get))
        .route("/v1/work/{id}/cancel", post(http::work::cancel))
        .route("/v1/work/{id}/bids", get(http::bids::list_for_work))
        .route("/v1/bids", post(http::bids::submit))
        .route("/internal/v1/work/{id}/bids", get(http::bids::list_internal))
        .with_state(state)
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
    let closer = timers::BidWindowCloser::new(platform.pool.clone(), BID_WINDOW_POLL);
    platform.spawn(closer.run(platform.shutdown.clone()));
    let state = AppState { pool: platform.pool.clone(), tokens: platform.tokens.clone() };
    platform.serve(listener, router(state), &config.service, Vec::new()).await
}
