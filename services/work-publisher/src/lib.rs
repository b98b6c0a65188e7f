//! AEX work-publisher: providers, subscriptions, work, sealed bids, bid windows and contracts.
//!
//! `router` builds the HTTP API from its state; `run` starts the whole service on a listener,
//! so tests run the real application on `127.0.0.1:0`.

mod config;
pub mod contracts;
pub mod domain;
pub mod error;
pub mod events;
pub mod http;
pub mod service;
pub mod settlement;
pub mod store;
pub mod timers;
pub mod webhooks;

pub use config::Config;

use aex_common::auth::{ServiceAuth, ServiceTokens, require_service_token};
use aex_common::events::consumer::ConsumerRunner;
use aex_common::http_client::{Downstream, HttpClient};
use aex_common::runtime::{Platform, PlatformSpec, StartError};
use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use contracts::Awards;
use settlement::Settlement;
use sqlx::PgPool;
use std::sync::Arc;
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
/// Longest wait between two sweeps of the contract deadline timer.
pub const CONTRACT_POLL: Duration = Duration::from_millis(500);
/// How often interrupted awards are looked for.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(10);
/// Longest wait between two sweeps of the webhook dispatcher.
pub const WEBHOOK_POLL: Duration = Duration::from_millis(200);

/// Migrations of the `work_publisher` schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/work_publisher");

/// Routes answered without a service token: none; every route requires one.
pub const PUBLIC_ROUTES: &[&str] = &[];

/// What handlers share.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub tokens: ServiceTokens,
    pub awards: Awards,
}

/// The service's own routes (the operational ones are added by the platform).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/providers", post(http::providers::create).get(http::providers::list_own))
        .route("/v1/providers/search", get(http::providers::search))
        .route("/v1/providers/{id}", get(http::providers::get))
        .route("/v1/providers/{id}/a2a", get(http::agent_cards::get))
        .route("/v1/providers/{id}/agent-card", post(http::agent_cards::publish))
        .route("/v1/subscriptions", post(http::subscriptions::create).get(http::subscriptions::list))
        .route("/v1/work", post(http::work::submit).get(http::work::list))
        .route("/v1/work/{id}", get(http::work::get))
        .route("/v1/work/{id}/cancel", post(http::work::cancel))
        .route("/v1/work/{id}/bids", get(http::bids::list_for_work))
        .route("/v1/work/{id}/award", post(http::contracts::award))
        .route("/v1/bids", post(http::bids::submit))
        .route("/v1/contracts/{id}", get(http::contracts::get))
        .route("/v1/contracts/{id}/progress", post(http::contracts::progress))
        .route("/v1/contracts/{id}/complete", post(http::contracts::complete))
        .route("/v1/contracts/{id}/fail", post(http::contracts::fail))
        .route("/internal/v1/work/{id}/bids", get(http::bids::list_internal))
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
    let base = config
        .settlement_url
        .parse::<url::Url>()
        .map_err(|e| StartError::Config(format!("invalid settlement URL: {e}")))?;
    let client = HttpClient::new(&config.http).map_err(|e| StartError::Config(e.to_string()))?;
    let policy = webhooks::RetryPolicy {
        max_attempts: config.webhook_max_attempts,
        first_backoff: Duration::from_millis(config.webhook_backoff_ms),
    };
    let platform = Platform::start(spec, shutdown).await?;
    let tokens = platform.tokens.clone();
    let client = client.as_service(tokens, SERVICE);
    let awards = Awards {
        pool: platform.pool.clone(),
        settlement: Settlement::new(client, Downstream::new("settlement", base)),
        contract_ttl: Duration::from_secs(config.contract_ttl_seconds),
    };
    let dispatcher = webhooks::Dispatcher::new(platform.pool.clone(), policy, WEBHOOK_POLL)
        .map_err(|e| StartError::Config(format!("webhook client: {e}")))?;

    let closer = timers::BidWindowCloser::new(platform.pool.clone(), BID_WINDOW_POLL);
    platform.spawn(closer.run(platform.shutdown.clone()));
    let keeper = timers::ContractKeeper::new(awards.clone(), CONTRACT_POLL, RECONCILE_EVERY);
    platform.spawn(keeper.run(platform.shutdown.clone()));
    platform.spawn(dispatcher.run(platform.shutdown.clone()));
    let evaluations = ConsumerRunner::new(
        platform.pool.clone(),
        platform.bus.clone(),
        events::evaluations_consumer(),
        Arc::new(events::Evaluations { awards: awards.clone() }),
    );
    platform.spawn(evaluations.run(platform.shutdown.clone()));
    let trust = ConsumerRunner::new(
        platform.pool.clone(),
        platform.bus.clone(),
        events::trust_consumer(),
        Arc::new(events::TrustTiers),
    );
    platform.spawn(trust.run(platform.shutdown.clone()));
    let state = AppState { pool: platform.pool.clone(), tokens: platform.tokens.clone(), awards };
    platform.serve(listener, router(state), &config.service, Vec::new()).await
}
