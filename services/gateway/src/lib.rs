//! AEX gateway: the only door into AEX: tenants, API keys, JWT, scopes, rate limits, idempotency and routing.
//!
//! `router` builds the HTTP API from its state; `run` starts the whole service on a listener,
//! so tests run the real application on `127.0.0.1:0`.

pub mod auth;
mod bootstrap;
mod config;
pub mod domain;
mod error;
mod http;
mod idempotency;
mod ratelimit;
mod redis_pool;
mod service;
mod store;

pub use auth::jwt::{AccessClaims, AccessTokens};
pub use config::{Config, IdentityArgs, LimitArgs, UpstreamArgs};
pub use error::Error;

use aex_common::auth::ServiceTokens;
use aex_common::http_client::HttpClient;
use aex_common::runtime::{Platform, PlatformSpec, StartError};
use auth::Authenticator;
use auth::cache::CredentialCache;
use auth::throttle::FailureThrottle;
use axum::Router;
use axum::extract::{FromRef, Request, State};
use axum::routing::{MethodFilter, MethodRouter, delete, get, post};
use domain::route::{ROUTES, Service, Verb};
use http::proxy::Upstreams;
use idempotency::ReplayCache;
use ratelimit::RateLimiter;
use redis_pool::Redis;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
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
    pub auth: Authenticator,
    pub http: HttpClient,
    pub upstreams: Arc<Upstreams>,
    pub limiter: RateLimiter,
    pub replay: ReplayCache,
}

/// The service's own routes (the operational ones are added by the platform): the identity
/// routes answered here, and every other public route proxied from the route table. Both pass
/// authentication and the scope check, which find the route's requirements in the table.
pub fn router(state: AppState) -> Router {
    let mut proxied: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for route in ROUTES.iter().filter(|r| r.service != Service::Gateway) {
        let service = route.service;
        let filter = match route.verb {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Delete => MethodFilter::DELETE,
        };
        let body_limit = route.body_limit().unwrap_or(aex_api::limits::BODY_BYTES);
        let handler =
            move |state: State<AppState>, request: Request| http::proxy::forward(state, service, body_limit, request);
        let methods = proxied.remove(route.pattern).unwrap_or_default();
        proxied.insert(route.pattern, methods.on(filter, handler));
    }
    let mut router = Router::new()
        .route("/v1/info", get(http::info::show))
        .route("/v1/auth/token", post(http::auth_token::issue))
        .route("/v1/tenants", post(http::tenants::create))
        .route("/v1/tenants/{id}", get(http::tenants::show))
        .route("/v1/tenants/{id}/suspend", post(http::tenants::suspend))
        .route("/v1/tenants/{id}/activate", post(http::tenants::activate))
        .route("/v1/tenants/{id}/quotas", post(http::tenants::set_quotas))
        .route("/v1/tenants/{id}/api-keys", post(http::api_keys::create).get(http::api_keys::list))
        .route("/v1/tenants/{id}/api-keys/{key_id}", delete(http::api_keys::revoke))
        .route("/v1/tenants/{id}/api-keys/{key_id}/rotate", post(http::api_keys::rotate));
    for (pattern, methods) in proxied {
        router = router.route(pattern, methods);
    }
    // A route layer runs only for matched routes (an unknown path stays a plain 404):
    // authentication, rate limit, scope check, idempotency, then the handler.
    router
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::middleware::admit))
        .route("/openapi.json", get(http::openapi::serve))
        .with_state(state)
}

/// Runs the service on `listener` until `shutdown` is cancelled.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartError> {
    config::check_jwt_secret(&config.identity.jwt_secret, config.service.environment).map_err(StartError::Config)?;
    let spec = PlatformSpec {
        name: SERVICE,
        default_schema: SCHEMA,
        migrator: &MIGRATOR,
        db: &config.db,
        nats: &config.nats,
        tokens: &config.tokens,
    };
    let limits = &config.limits;
    let redis = Redis::new(config.redis_url.expose(), &limits.redis_key_prefix, limits.redis_max_in_flight as usize)
        .map_err(|_| StartError::Config("REDIS_URL is not a valid Redis URL".into()))?;
    let http = HttpClient::new(&config.http).map_err(|e| StartError::Config(e.to_string()))?;
    let mut platform = Platform::start(spec, shutdown).await?;
    platform.accept_bodies_up_to(aex_api::limits::TRANSFER_BATCH_BODY_BYTES);
    bootstrap::ensure_operator(&platform.pool, &config.identity)
        .await
        .map_err(|e| StartError::Config(e.to_string()))?;

    let cache = Arc::new(CredentialCache::new(
        Duration::from_secs(config.identity.credential_cache_ttl_seconds),
        Duration::from_secs(config.identity.credential_negative_cache_seconds),
    ));
    platform.spawn(auth::listener::run(platform.pool.clone(), cache.clone(), platform.shutdown.clone()));
    let tokens = AccessTokens::new(&config.identity.jwt_secret, Duration::from_secs(config.identity.jwt_ttl_seconds));
    let state = AppState {
        pool: platform.pool.clone(),
        tokens: platform.tokens.clone(),
        auth: Authenticator::new(
            platform.pool.clone(),
            cache.clone(),
            tokens,
            FailureThrottle::new(redis.clone(), limits),
        ),
        http,
        upstreams: Arc::new(Upstreams::new(&config.upstreams)),
        limiter: RateLimiter::new(redis.clone(), limits),
        replay: ReplayCache::new(redis.clone(), limits),
    };
    let checks: Vec<Arc<dyn aex_common::server::ReadinessCheck>> =
        vec![Arc::new(redis), Arc::new(auth::listener::ListenerReadiness(cache))];
    platform.serve(listener, router(state), &config.service, checks).await
}
