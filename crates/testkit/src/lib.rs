//! Test harness for AEX: the real Postgres, NATS and Redis the local stack provides, an
//! isolated schema and NATS namespace per test, a private `nats-server` for tests that stop
//! the broker, and polling with a deadline instead of sleeps.
//!
//! Run tests with `deploy/local/stack test`, or after `eval "$(deploy/local/stack env)"`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::float_arithmetic)] // a harness reports setup failures by panicking

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

const HINT: &str = "run the tests with `deploy/local/stack test`, or `eval \"$(deploy/local/stack env)\"` first";

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: {HINT}"))
}

/// Postgres URL of the test database (`AEX_TEST_DATABASE_URL`).
pub fn database_url() -> String {
    required_env("AEX_TEST_DATABASE_URL")
}

/// NATS URL of the shared test broker (`AEX_TEST_NATS_URL`).
pub fn nats_url() -> String {
    required_env("AEX_TEST_NATS_URL")
}

/// Redis URL of the test instance (`AEX_TEST_REDIS_URL`).
pub fn redis_url() -> String {
    required_env("AEX_TEST_REDIS_URL")
}

static INIT: Once = Once::new();

/// Installs the process-wide rustls provider (two are linked) and test logging, once.
pub fn init() {
    INIT.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("AEX_TEST_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
    });
}

/// A short random lower-case token for schema and namespace names.
pub fn unique_suffix() -> String {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..10).map(|_| alphabet[fastrand::usize(..alphabet.len())] as char).collect()
}

/// A schema name no other test uses: `<base>_t<random>`.
pub fn unique_schema(base: &str) -> String {
    format!("{base}_t{}", unique_suffix())
}

/// A NATS namespace no other test uses.
pub fn unique_namespace() -> String {
    format!("t{}", unique_suffix())
}

/// A pool on the test database with `schema` (created if missing) as its search path.
pub async fn schema_pool(schema: &str) -> PgPool {
    init();
    let url = database_url();
    let admin = PgPoolOptions::new().max_connections(1).connect(&url).await.expect("connect to the test database");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {schema}")))
        .execute(&admin)
        .await
        .expect("create test schema");
    admin.close().await;
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("parse the test database URL");
    PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options.options([("search_path", schema)]))
        .await
        .expect("connect the schema pool")
}

/// Polls `probe` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A free TCP port on loopback (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// A listener on `127.0.0.1:0` for a service under test, and its address.
pub async fn listener() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// A server program the tests can run privately on a port of their own.
pub trait Program {
    /// The URL scheme clients use.
    const SCHEME: &'static str;
    /// The command that serves on `port`, keeping any state under `store`.
    fn command(port: u16, store: &std::path::Path) -> Command;
}

/// NATS with JetStream, its store kept across restarts.
#[derive(Debug)]
pub struct Nats;

impl Program for Nats {
    const SCHEME: &'static str = "nats";

    fn command(port: u16, store: &std::path::Path) -> Command {
        let mut command = Command::new("nats-server");
        command.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"]).arg(store);
        command
    }
}

/// Redis without persistence: a restart comes back empty.
#[derive(Debug)]
pub struct Redis;

impl Program for Redis {
    const SCHEME: &'static str = "redis";

    fn command(port: u16, _store: &std::path::Path) -> Command {
        let mut command = Command::new("redis-server");
        command.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        command
    }
}

/// A private server for tests that stop and restart a dependency. Killed on drop.
pub struct LocalServer<P: Program> {
    port: u16,
    store: PathBuf,
    child: Option<Child>,
    program: std::marker::PhantomData<P>,
}

/// A private `nats-server` with JetStream.
pub type NatsServer = LocalServer<Nats>;
/// A private `redis-server`.
pub type RedisServer = LocalServer<Redis>;

impl<P: Program> LocalServer<P> {
    pub fn start() -> Self {
        let store = std::env::temp_dir().join(format!("aex-{}-{}", P::SCHEME, unique_suffix()));
        let mut server = Self { port: free_port(), store, child: None, program: std::marker::PhantomData };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", P::SCHEME, self.port)
    }

    /// Kills the server; its store (if any) is kept for a restart.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and store, and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        let child =
            P::command(self.port, &self.store).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap_or_else(
                |e| panic!("spawn the {} server (deploy/local/stack infra installs it): {e}", P::SCHEME),
            );
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the {} server did not start on port {}", P::SCHEME, self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl<P: Program> Drop for LocalServer<P> {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// Figures of a benchmark run, printed as throughput and latency percentiles.
#[derive(Debug, Clone)]
pub struct BenchRun {
    pub name: String,
    pub operations: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl BenchRun {
    pub fn per_second(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency at percentile `q` (0..=100).
    pub fn percentile(&self, q: usize) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        sorted.get((sorted.len() * q / 100).min(sorted.len().saturating_sub(1))).copied().unwrap_or_default()
    }

    /// One line: `name  N unit/s  p50  p99  (count, errors, seconds)`.
    pub fn print(&self, unit: &str) {
        println!(
            "  {:<44} {:>9.0} {unit}/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} {unit}, {} errors, {:.1} s)",
            self.name,
            self.per_second(),
            self.percentile(50).as_secs_f64() * 1e3,
            self.percentile(99).as_secs_f64() * 1e3,
            self.operations,
            self.errors,
            self.elapsed.as_secs_f64()
        );
    }
}

/// The isolated environment of one service under test: a schema and NATS namespace of its
/// own on the shared test Postgres and NATS, and a fresh service-token secret.
#[derive(Debug, Clone)]
pub struct ServiceUnderTest {
    pub binary: String,
    pub schema: String,
    pub namespace: String,
    pub token_secret: String,
    pub database_url: String,
    pub nats_url: String,
}

impl ServiceUnderTest {
    pub fn new(binary: &str, schema_base: &str) -> Self {
        init();
        let token_secret: String = (0..48).map(|_| fastrand::alphanumeric()).collect();
        Self {
            binary: binary.to_string(),
            schema: unique_schema(schema_base),
            namespace: unique_namespace(),
            token_secret,
            database_url: database_url(),
            nats_url: nats_url(),
        }
    }

    /// Command-line arguments for the service's `Config::try_parse_from`.
    pub fn args(&self) -> Vec<String> {
        [
            self.binary.as_str(),
            "--database-url",
            &self.database_url,
            "--db-schema",
            &self.schema,
            "--db-max-connections",
            "8",
            "--nats-url",
            &self.nats_url,
            "--nats-namespace",
            &self.namespace,
            "--service-token-secret",
            &self.token_secret,
            "--log-format",
            "text",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// A pool on the service's schema, for asserting database effects.
    pub async fn pool(&self) -> PgPool {
        schema_pool(&self.schema).await
    }
}

/// A service running inside the test process.
pub struct RunningService {
    pub addr: SocketAddr,
    pub base_url: String,
    pub http: reqwest::Client,
    shutdown: tokio_util::sync::CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningService {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Cancels the service and waits for its graceful shutdown.
    pub async fn stop(mut self) {
        self.halt().await;
    }

    /// Stops the service but keeps the handle (its address, for [`spawn_service_at`]).
    pub async fn halt(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts a service with `start(listener, shutdown)` and waits until `/health` answers.
pub async fn spawn_service<F, Fut, E>(start: F) -> RunningService
where
    F: FnOnce(tokio::net::TcpListener, tokio_util::sync::CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    init();
    let (listener, _) = listener().await;
    spawn_on(listener, start).await
}

/// Like [`spawn_service`], on a given address: a service restarted where its clients expect
/// it (waits for the address to be free again after a stop).
pub async fn spawn_service_at<F, Fut, E>(addr: SocketAddr, start: F) -> RunningService
where
    F: FnOnce(tokio::net::TcpListener, tokio_util::sync::CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    init();
    let listener = eventually(Duration::from_secs(20), "the address to be free", || async {
        tokio::net::TcpListener::bind(addr).await.ok()
    })
    .await;
    spawn_on(listener, start).await
}

async fn spawn_on<F, Fut, E>(listener: tokio::net::TcpListener, start: F) -> RunningService
where
    F: FnOnce(tokio::net::TcpListener, tokio_util::sync::CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let addr = listener.local_addr().expect("local addr");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let future = start(listener, shutdown.clone());
    let task = tokio::spawn(async move {
        if let Err(error) = future.await {
            panic!("service under test failed: {error}");
        }
    });
    let base_url = format!("http://{addr}");
    let http = reqwest::Client::new();
    eventually(Duration::from_secs(20), "the service to answer /health", || {
        let http = http.clone();
        let url = format!("{base_url}/health");
        async move { http.get(url).send().await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
    })
    .await;
    RunningService { addr, base_url, http, shutdown, task: Some(task) }
}

/// Asserts what every service answers: liveness, readiness with Postgres and NATS up,
/// Prometheus metrics by matched route, and the error envelope with the request id.
pub async fn assert_operational(service: &RunningService, name: &str) {
    let health: serde_json::Value =
        service.http.get(service.url("/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["service"], name);

    let ready = eventually(Duration::from_secs(10), "readiness 200", || async {
        let response = service.http.get(service.url("/health/ready")).send().await.ok()?;
        (response.status() == 200).then_some(response)
    })
    .await;
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["dependencies"]["postgres"]["status"], "ok");
    assert_eq!(ready["dependencies"]["nats"]["status"], "ok");

    let missing =
        service.http.get(service.url("/v1/no-such-route")).header("x-request-id", "req-test-123").send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["x-request-id"], "req-test-123");
    assert_eq!(missing.headers()["x-aex-service"], name, "every response names its service");
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    assert_eq!(body["error"]["request_id"], "req-test-123");

    let metrics = service.http.get(service.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("aex_http_requests_total"), "metrics lack request counts:\n{metrics}");
    assert!(metrics.contains("route=\"/health\""), "metrics are not labelled by matched route");
    assert!(!metrics.contains("no-such-route"), "raw paths must not become labels");
}

/// Asserts the service migrated its own schema: outbox, inbox and its own migrations table.
pub async fn assert_schema_migrated(sut: &ServiceUnderTest) {
    let pool = schema_pool(&sut.schema).await;
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1")
            .bind(&sut.schema)
            .fetch_all(&pool)
            .await
            .unwrap();
    for table in ["_sqlx_migrations", "inbox", "outbox"] {
        assert!(tables.iter().any(|t| t == table), "{table} missing from {}: {tables:?}", sut.schema);
    }
    let public: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = '_sqlx_migrations'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(public, 0, "migrations bookkeeping must live in the service's schema");
}
