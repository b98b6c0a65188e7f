//! What every service binary does the same way: shared configuration, start-up (telemetry,
//! database and migrations, NATS, the outbox relay), serving with the standard stack, and an
//! orderly shutdown that lets in-flight requests and the relay finish.

use crate::auth::{ServiceTokenArgs, ServiceTokens, TokenError};
use crate::db::{self, DbArgs, DbError};
use crate::events::relay::{OutboxRelay, RelayConfig};
use crate::events::{EventBus, EventError, NatsArgs};
use crate::server::{self, ReadinessCheck, StackConfig};
use crate::telemetry::{self, LogFormat, TelemetryError};
use axum::Router;
use sqlx::PgPool;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Where the process runs; production refuses unsafe defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

/// Configuration shared by every service binary.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// Address to listen on; defaults to the service's standard port on 127.0.0.1.
    #[arg(long = "bind", env = "AEX_BIND")]
    pub bind: Option<SocketAddr>,
    /// `development` or `production`.
    #[arg(long = "env", env = "AEX_ENV", value_enum, default_value = "development")]
    pub environment: Environment,
    /// `json` or `text` log lines.
    #[arg(long = "log-format", env = "AEX_LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormat,
    /// Longest time a request may take before it is abandoned, in milliseconds.
    #[arg(long = "request-timeout-ms", env = "AEX_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,
    /// Allowed CORS origins, comma separated (`*` for any). Unset: any origin in development,
    /// none in production.
    #[arg(long = "cors-origins", env = "AEX_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
}

/// A service's configuration exposes the shared part to [`main`].
pub trait ServiceConfig: clap::Parser + Send + 'static {
    fn service(&self) -> &ServiceArgs;
}

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("telemetry: {0}")]
    Telemetry(#[from] TelemetryError),
    #[error("database: {0}")]
    Database(#[from] DbError),
    #[error("events: {0}")]
    Events(#[from] EventError),
    #[error("service tokens: {0}")]
    Tokens(#[from] TokenError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error("configuration: {0}")]
    Config(String),
}

/// Installs the process-wide rustls crypto provider. Two providers are linked (ring through
/// async-nats, aws-lc-rs through reqwest and jsonwebtoken), so one must be chosen explicitly.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The whole of a service's `main`: parse configuration, start telemetry, bind, run until
/// SIGTERM, flush, and turn the outcome into an exit code.
pub async fn main<C, F, Fut>(name: &'static str, default_port: u16, run: F) -> ExitCode
where
    C: ServiceConfig,
    F: FnOnce(C, TcpListener, CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), StartError>>,
{
    install_crypto_provider();
    let config = C::parse();
    let telemetry = match telemetry::init(name, config.service().log_format) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("{name}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let addr = config.service().bind.unwrap_or(SocketAddr::from(([127, 0, 0, 1], default_port)));
    let result = async {
        let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
        tracing::info!(service = name, %addr, "listening");
        let shutdown = CancellationToken::new();
        server::cancel_on_signal(shutdown.clone());
        run(config, listener, shutdown).await
    }
    .await;
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(service = name, %error, "service stopped with an error");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    code
}

/// The infrastructure a running service holds: its schema's pool, the event bus, service
/// tokens, and the background tasks (relay, consumers, timers) that stop with it.
#[derive(Clone)]
pub struct Platform {
    pub name: &'static str,
    pub schema: String,
    pub pool: PgPool,
    pub bus: EventBus,
    pub tokens: ServiceTokens,
    pub shutdown: CancellationToken,
    tasks: TaskTracker,
    largest_body_bytes: Option<usize>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform").field("name", &self.name).field("schema", &self.schema).finish_non_exhaustive()
    }
}

/// What [`Platform::start`] needs.
#[derive(Debug)]
pub struct PlatformSpec<'a> {
    pub name: &'static str,
    pub default_schema: &'static str,
    pub migrator: &'a sqlx::migrate::Migrator,
    pub db: &'a DbArgs,
    pub nats: &'a NatsArgs,
    pub tokens: &'a ServiceTokenArgs,
}

impl Platform {
    /// Connects to Postgres (creating and migrating the schema), connects to NATS in the
    /// background, and starts the outbox relay.
    pub async fn start(spec: PlatformSpec<'_>, shutdown: CancellationToken) -> Result<Self, StartError> {
        let tokens = ServiceTokens::from_args(spec.tokens)?;
        let schema = spec.db.db_schema.clone().unwrap_or_else(|| spec.default_schema.to_string());
        let pool = db::connect(&spec.db.database_url, &schema, spec.db.db_max_connections).await?;
        db::migrate(&pool, &schema, spec.migrator).await?;
        tracing::info!(service = spec.name, schema = %schema, "schema migrated");
        let bus = EventBus::connect(spec.nats, &format!("aex-{}", spec.name)).await?;
        let platform = Self {
            name: spec.name,
            schema,
            pool,
            bus,
            tokens,
            shutdown,
            tasks: TaskTracker::new(),
            largest_body_bytes: None,
        };
        let relay =
            OutboxRelay::new(platform.pool.clone(), platform.bus.clone(), &platform.schema, RelayConfig::default());
        platform.spawn(relay.run(platform.shutdown.clone()));
        Ok(platform)
    }

    /// Runs a background task that must finish before the service exits.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// Lets routes that raise their own `DefaultBodyLimit` read bodies of up to `bytes`
    /// (every other route keeps the stack's default).
    pub fn accept_bodies_up_to(&mut self, bytes: usize) {
        self.largest_body_bytes = Some(bytes);
    }

    /// Postgres and NATS; services add their own (Redis at the gateway).
    pub fn readiness_checks(&self) -> Vec<Arc<dyn ReadinessCheck>> {
        vec![Arc::new(self.pool.clone()), Arc::new(self.bus.clone())]
    }

    /// Serves `routes` (plus `/health`, `/health/ready`, `/metrics`) behind the standard stack
    /// until shutdown, then waits for background tasks to stop.
    pub async fn serve(
        self,
        listener: TcpListener,
        routes: Router,
        service: &ServiceArgs,
        extra_checks: Vec<Arc<dyn ReadinessCheck>>,
    ) -> Result<(), StartError> {
        let mut checks = self.readiness_checks();
        checks.extend(extra_checks);
        let app = routes.merge(server::health_routes(self.name, checks, Some(telemetry::metrics_recorder())));
        let mut stack = StackConfig::new(self.name);
        stack.request_timeout = Duration::from_millis(service.request_timeout_ms);
        stack.cors_origins = service.cors_origins.clone();
        stack.cors_any_origin = service.environment == Environment::Development;
        if let Some(bytes) = self.largest_body_bytes {
            stack.largest_body_bytes = bytes;
        }
        let app = server::apply_stack(app, &stack);
        let served = server::serve(listener, app, self.shutdown.clone()).await;
        self.shutdown.cancel();
        self.tasks.close();
        if tokio::time::timeout(Duration::from_secs(10), self.tasks.wait()).await.is_err() {
            tracing::warn!(service = self.name, "background tasks did not stop within 10 s");
        }
        self.pool.close().await;
        served.map_err(StartError::Serve)
    }
}
