//! AEX settlement: the double-entry ledger, escrow, fee splits, receipts and audit.
//!
//! `router` builds the HTTP API from its state; `run` starts the whole service on a listener,
//! so tests run the real application on `127.0.0.1:0`.

mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod http;
pub mod ledger;
pub mod receipts;
pub mod service;
pub mod store;

pub use config::Config;

use aex_common::auth::{ServiceAuth, ServiceTokens, require_service_token};
use aex_common::events::consumer::ConsumerRunner;
use aex_common::runtime::{Platform, PlatformSpec, StartError};
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};
use ledger::Ledger;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The service's name in logs, metrics and traces.
pub const SERVICE: &str = "settlement";
/// The standard port of the service.
pub const DEFAULT_PORT: u16 = 8088;
/// The schema this service owns.
pub const SCHEMA: &str = "settlement";

/// Migrations of the `settlement` schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/settlement");

/// Routes answered without a service token: what the gateway serves anonymously
/// (`Access::Public` in its route table). Every other route requires a token.
pub const PUBLIC_ROUTES: &[&str] = &["/v1/market/feed", "/v1/receipts/keys"];

/// Largest handoff a writer accepts: a follower's full batch, as JSON.
const HANDOFF_BODY_BYTES: usize = 4 * aex_api::limits::TRANSFER_BATCH_BODY_BYTES;

/// What handlers share.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub tokens: ServiceTokens,
    pub ledger: Ledger,
    pub receipts: receipts::ReceiptSigner,
}

/// The service's own routes (the operational ones are added by the platform).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/balance", get(http::balance::get_balance))
        .route("/v1/deposits", post(http::funds::deposit))
        .route("/v1/withdrawals", post(http::funds::withdraw))
        .route(
            "/v1/transfers",
            post(http::transfers::create_transfers)
                .layer(DefaultBodyLimit::max(aex_api::limits::TRANSFER_BATCH_BODY_BYTES)),
        )
        .route("/v1/accounts", get(http::accounts::list_accounts))
        .route("/v1/accounts/{id}", get(http::accounts::get_account))
        .route("/v1/accounts/{id}/entries", get(http::accounts::list_entries))
        .route("/v1/fees/policy", get(http::fees::policy))
        .route("/v1/fees/tiers/{provider_id}", get(http::fees::provider_tier))
        .route("/v1/usage", get(http::usage::summary))
        .route("/v1/usage/transactions", get(http::usage::transactions))
        .route("/v1/market/feed", get(http::market::public_feed))
        .route("/v1/market/feed/premium", get(http::market::premium_feed))
        .route("/v1/audit/deals/{contract_id}/replay", get(http::audit::replay_deal))
        .route("/v1/audit/agents/{provider_id}/revenue", get(http::audit::agent_revenue))
        .route("/v1/settlements/{contract_id}", get(http::escrow::get_settlement))
        .route("/v1/settlements/{contract_id}/receipt", get(http::receipts::get_receipt))
        .route("/v1/receipts/verify", post(http::receipts::verify))
        .route("/v1/receipts/keys", get(http::receipts::keys))
        .route("/v1/receipts/keys/rotate", post(http::receipts::rotate))
        .route("/internal/v1/holds", post(http::escrow::place_hold))
        .route("/internal/settlement/complete", post(http::escrow::complete))
        .route(ledger::handoff::PATH, post(http::ledger::handoff).layer(DefaultBodyLimit::max(HANDOFF_BODY_BYTES)))
        .route("/internal/v1/ledger/writer", get(http::ledger::writer))
        .route("/v1/audit/journal", get(http::audit::export))
        .route("/v1/audit/journal/verify", get(http::audit::verify))
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
    let environment = config.service.environment;
    let wrap = aex_common::keywrap::from_config(config.receipt_kek.as_ref(), environment, "AEX_SETTLEMENT_KEK")
        .map_err(StartError::Config)?;
    let mut platform = Platform::start(spec, shutdown).await?;
    platform.accept_bodies_up_to(HANDOFF_BODY_BYTES);
    let allow_plaintext = environment == aex_common::runtime::Environment::Development;
    let signer = receipts::ReceiptSigner::load_or_create(&platform.pool, Arc::from(wrap), allow_plaintext)
        .await
        .map_err(StartError::Config)?;
    let tokens = platform.tokens.clone();
    let client = aex_common::http_client::HttpClient::new(&config.http)
        .map_err(|e| StartError::Config(e.to_string()))?
        .as_service(tokens, SERVICE);
    let replication = ledger::Replication {
        candidate: ledger::election::Candidate::new(
            config.advertise_url.clone(),
            Duration::from_secs(config.ledger_writer_lease_seconds),
        ),
        client,
        handoffs_in_flight: usize::try_from(config.ledger_handoffs_in_flight).unwrap_or(1),
    };
    let (ledger, batcher) = Ledger::start(platform.pool.clone(), replication, platform.shutdown.clone());
    platform.spawn(batcher);
    platform.spawn(ledger::expire_lapsed_holds(
        platform.pool.clone(),
        ledger.clone(),
        Duration::from_secs(1),
        platform.shutdown.clone(),
    ));
    let contracts = events::ContractEvents { pool: platform.pool.clone(), ledger: ledger.clone() };
    let consumer = ConsumerRunner::new(
        platform.pool.clone(),
        platform.bus.clone(),
        events::contract_consumer(),
        Arc::new(contracts),
    );
    platform.spawn(consumer.run(platform.shutdown.clone()));
    platform.spawn(receipts::refresh_key_periodically(
        platform.pool.clone(),
        signer.clone(),
        platform.shutdown.clone(),
    ));
    platform.spawn(receipts::sign_journal_head_periodically(
        platform.pool.clone(),
        signer.clone(),
        Duration::from_secs(config.journal_sign_interval_seconds.max(1)),
        platform.shutdown.clone(),
    ));
    let state = AppState { pool: platform.pool.clone(), tokens: platform.tokens.clone(), ledger, receipts: signer };
    platform.serve(listener, router(state), &config.service, Vec::new()).await
}
