//! AEX bid-evaluator: scoring, disqualification and ranking of bids.
//!
//! `router` builds the HTTP API from its state; `run` starts the whole service on a listener,
//! so tests run the real application on `127.0.0.1:0`.

mod config;
pub mod domain;
pub mod evaluation;
pub mod events;
pub mod http;

pub use config::Config;

use aex_common::auth::{ServiceAuth, ServiceTokens, require_service_token};
use aex_common::events::consumer::ConsumerRunner;
use aex_common::http_client::{Downstream, HttpClient};
use aex_common::runtime::{Platform, PlatformSpec, StartError};
use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use evaluation::Evaluator;
use sqlx::PgPool;
use std::sync::Arc;
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

/// Routes answered without a service token: none; every route requires one.
pub const PUBLIC_ROUTES: &[&str] = &[];

/// What handlers share.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub tokens: ServiceTokens,
    pub evaluator: Evaluator,
}

/// The service's own routes (the operational ones are added by the platform).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/work/{id}/evaluation", get(http::get_evaluation))
        .route("/internal/v1/evaluate", post(http::evaluate_now))
        .route_layer(axum::middleware::from_fn_with_state(
            ServiceAuth::new(state.tokens.clone(), PUBLIC_ROUTES),
            require_service_token,
        ))
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
    let downstream = |name: &'static str, url: &str| {
        url.parse::<url::Url>()
            .map(|base| Downstream::new(name, base))
            .map_err(|e| StartError::Config(format!("invalid {name} URL: {e}")))
    };
    let work_publisher = downstream("work-publisher", &config.work_publisher_url)?;
    let certauth = downstream("certauth", &config.certauth_url)?;
    let client = HttpClient::new(&config.http).map_err(|e| StartError::Config(e.to_string()))?;
    let platform = Platform::start(spec, shutdown).await?;
    let tokens = platform.tokens.clone();
    let client = client.as_service(tokens, SERVICE);
    let evaluator = Evaluator { client, work_publisher, certauth };
    let consumer = ConsumerRunner::new(
        platform.pool.clone(),
        platform.bus.clone(),
        events::window_closed_consumer(),
        Arc::new(events::WindowClosed { evaluator: evaluator.clone() }),
    );
    platform.spawn(consumer.run(platform.shutdown.clone()));
    let state = AppState { pool: platform.pool.clone(), tokens: platform.tokens.clone(), evaluator };
    platform.serve(listener, router(state), &config.service, Vec::new()).await
}
