//! AEX certauth: agent certificates, CRL, trust and reputation.
//!
//! `router` builds the HTTP API from its state; `run` starts the whole service on a listener,
//! so tests run the real application on `127.0.0.1:0`.

mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod http;
pub mod keyring;
pub mod reputation;
pub mod service;
pub mod store;

pub use config::{CaArgs, Config, ReputationArgs};

use aex_common::auth::{ServiceAuth, ServiceTokens, require_service_token};
use aex_common::events::consumer::ConsumerRunner;
use aex_common::runtime::{Platform, PlatformSpec, StartError};
use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use keyring::Keyring;
use service::Ca;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The service's name in logs, metrics and traces.
pub const SERVICE: &str = "certauth";
/// The standard port of the service.
pub const DEFAULT_PORT: u16 = 8091;
/// The schema this service owns.
pub const SCHEMA: &str = "certauth";

/// Migrations of the `certauth` schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/certauth");

/// Routes answered without a service token: what the gateway serves anonymously
/// (`Access::Public` in its route table). Every other route requires a token.
pub const PUBLIC_ROUTES: &[&str] = &["/.well-known/aex-ca.json", "/v1/crl", "/v1/crl.der"];

/// What handlers share.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub tokens: ServiceTokens,
    pub ca: Ca,
}

/// The service's own routes (the operational ones are added by the platform).
pub fn router(state: AppState) -> Router {
    use http::{ca, certificates, crl, reputation, requests};
    Router::new()
        .route("/.well-known/aex-ca.json", get(ca::well_known))
        .route("/v1/ca/keys/rotate", post(ca::rotate))
        .route("/v1/ca/keys/{version}/revoke", post(ca::revoke))
        .route("/v1/certificates/request", post(requests::create))
        .route("/v1/certificates/requests/{id}/approve", post(requests::approve))
        .route("/v1/certificates/requests/{id}/reject", post(requests::reject))
        .route("/internal/v1/certificates/{id}/approve", post(requests::internal_approve))
        .route("/internal/v1/certificates/{id}/reject", post(requests::internal_reject))
        .route("/v1/certificates/verify", post(certificates::verify))
        .route("/v1/certificates/search", get(certificates::search))
        .route("/v1/certificates/{id}", get(certificates::get).delete(certificates::revoke))
        .route("/v1/certificates/{id}/renew", post(certificates::renew))
        .route("/v1/providers/{id}/certificates", get(certificates::for_provider))
        .route("/internal/v1/certificates/batch-verify", post(certificates::batch_verify))
        .route("/internal/v1/providers/{id}/can-perform", get(certificates::can_perform))
        .route("/v1/providers/{id}/reputation", get(reputation::reputation))
        .route("/v1/providers/{id}/trust", get(reputation::trust))
        .route("/v1/reputation/leaderboard", get(reputation::leaderboard))
        .route("/internal/v1/providers/trust", post(reputation::batch_trust))
        .route("/v1/crl", get(crl::get_crl))
        .route("/v1/crl.der", get(crl::get_crl_der))
        .route_layer(axum::middleware::from_fn_with_state(
            ServiceAuth::new(state.tokens.clone(), PUBLIC_ROUTES),
            require_service_token,
        ))
        .with_state(state)
}

/// Runs the service on `listener` until `shutdown` is cancelled.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartError> {
    // Refuse a production start without a KEK before touching anything.
    let keyring = Keyring::from_config(&config.ca, config.service.environment).map_err(StartError::Config)?;
    let spec = PlatformSpec {
        name: SERVICE,
        default_schema: SCHEMA,
        migrator: &MIGRATOR,
        db: &config.db,
        nats: &config.nats,
        tokens: &config.tokens,
    };
    let platform = Platform::start(spec, shutdown).await?;
    let ca = Ca { keyring, validity: time::Duration::days(i64::from(config.ca.cert_validity_days)) };
    service::initialize(&platform.pool, &ca)
        .await
        .map_err(|e| StartError::Config(format!("certificate authority: {e}")))?;
    let contracts = ConsumerRunner::new(
        platform.pool.clone(),
        platform.bus.clone(),
        events::contract_consumer(),
        Arc::new(events::ContractOutcomes),
    );
    platform.spawn(contracts.run(platform.shutdown.clone()));
    let settlements = ConsumerRunner::new(
        platform.pool.clone(),
        platform.bus.clone(),
        events::settlement_consumer(),
        Arc::new(events::Settlements),
    );
    platform.spawn(settlements.run(platform.shutdown.clone()));
    platform.spawn(reputation::refresh_stale(
        platform.pool.clone(),
        std::time::Duration::from_secs(config.reputation.refresh_seconds),
        platform.shutdown.clone(),
    ));
    platform.spawn(service::refresh_crl_periodically(
        platform.pool.clone(),
        ca.clone(),
        std::time::Duration::from_secs(config.ca.crl_refresh_seconds),
        platform.shutdown.clone(),
    ));
    let state = AppState { pool: platform.pool.clone(), tokens: platform.tokens.clone(), ca };
    platform.serve(listener, router(state), &config.service, Vec::new()).await
}
