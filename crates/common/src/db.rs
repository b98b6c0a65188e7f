//! Postgres access: a pool bound to the service's own schema, per-schema migrations with the
//! schema's own `_sqlx_migrations` table, constraint-name mapping and transparent retry of
//! serialization failures and deadlocks.

use crate::secret::{Secret, redact_url};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

/// Configuration fragment for a service's database.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// Postgres connection URL.
    #[arg(long = "database-url", env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Secret<String>,
    /// The schema this service owns; defaults to the service's own schema name.
    #[arg(long = "db-schema", env = "AEX_DB_SCHEMA")]
    pub db_schema: Option<String>,
    /// Largest number of pooled connections.
    #[arg(long = "db-max-connections", env = "AEX_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
}

/// Why the database could not be reached or prepared.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid schema name {0:?}: lower-case letters, digits and '_' only")]
    InvalidSchema(String),
    #[error("invalid database URL {url}: {source}")]
    InvalidUrl { url: String, source: sqlx::Error },
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("migration of schema {schema} failed: {source}")]
    Migrate { schema: String, source: sqlx::migrate::MigrateError },
}

/// A schema name we are willing to put into DDL: `[a-z_][a-z0-9_]{0,62}`.
pub fn is_valid_schema_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && name.len() <= 63
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

/// Connects a pool whose connections use `schema` as their search path, creating the schema
/// when it does not exist yet. Every unqualified name a service uses lands in its own schema.
pub async fn connect(url: &Secret<String>, schema: &str, max_connections: u32) -> Result<PgPool, DbError> {
    if !is_valid_schema_name(schema) {
        return Err(DbError::InvalidSchema(schema.to_string()));
    }
    let shown = redact_url(url.expose());
    let base = PgConnectOptions::from_str(url.expose())
        .map_err(|source| DbError::InvalidUrl { url: shown.clone(), source })?
        .log_statements(tracing::log::LevelFilter::Debug)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));

    let mut bootstrap = base.connect().await.map_err(|source| DbError::Connect { url: shown.clone(), source })?;
    let ddl = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
    // Two services starting at once may race on CREATE SCHEMA; the loser sees a unique
    // violation on the catalog, which means the schema exists.
    if let Err(error) = sqlx::raw_sql(sqlx::AssertSqlSafe(ddl)).execute(&mut bootstrap).await
        && !is_unique_violation(&error)
    {
        return Err(DbError::Connect { url: shown, source: error });
    }
    drop(bootstrap);

    let options = base.options([("search_path", schema)]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|source| DbError::Connect { url: shown, source })
}

/// Applies `migrator` to the pool's schema; its bookkeeping table lives in that schema.
pub async fn migrate(pool: &PgPool, schema: &str, migrator: &sqlx::migrate::Migrator) -> Result<(), DbError> {
    migrator.run(pool).await.map_err(|source| DbError::Migrate { schema: schema.to_string(), source })
}

/// The kind of integrity rule a database error broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationKind {
    Unique,
    ForeignKey,
    Check,
    NotNull,
    Exclusion,
}

/// The constraint a database error names, and its kind, if it is an integrity violation.
pub fn constraint_violation(error: &sqlx::Error) -> Option<(&str, ViolationKind)> {
    let db = error.as_database_error()?;
    let kind = match db.code()?.as_ref() {
        "23505" => ViolationKind::Unique,
        "23503" => ViolationKind::ForeignKey,
        "23514" => ViolationKind::Check,
        "23502" => ViolationKind::NotNull,
        "23P01" => ViolationKind::Exclusion,
        _ => return None,
    };
    Some((db.constraint().unwrap_or(""), kind))
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(constraint_violation(error), Some((_, ViolationKind::Unique)))
}

/// Maps a named constraint violation to a service error, in one place per call site.
///
/// ```ignore
/// store::contract::insert(&mut tx, &c).await
///     .on_constraint("contracts_work_id_key", || Error::WorkAlreadyAwarded)?;
/// ```
pub trait ConstraintExt<T> {
    fn on_constraint<E: From<sqlx::Error>>(self, name: &str, map: impl FnOnce() -> E) -> Result<T, E>;
}

impl<T> ConstraintExt<T> for Result<T, sqlx::Error> {
    fn on_constraint<E: From<sqlx::Error>>(self, name: &str, map: impl FnOnce() -> E) -> Result<T, E> {
        self.map_err(|error| match constraint_violation(&error) {
            Some((constraint, _)) if constraint == name => map(),
            _ => E::from(error),
        })
    }
}

/// True for errors that a fresh attempt of the same transaction may not hit:
/// serialization failures (40001) and deadlocks (40P01).
pub fn is_retryable(error: &sqlx::Error) -> bool {
    error.as_database_error().and_then(|db| db.code()).is_some_and(|code| code == "40001" || code == "40P01")
}

/// Errors that can say whether a retry of the whole transaction may succeed.
pub trait Retryable {
    fn is_retryable(&self) -> bool;
}

impl Retryable for sqlx::Error {
    fn is_retryable(&self) -> bool {
        is_retryable(self)
    }
}

/// Runs `attempt` (a whole transaction) again on serialization failures and deadlocks, with
/// a short jittered backoff, up to `max_attempts` times. Clients never see these conflicts.
pub async fn retry_on_conflict<T, E, F, Fut>(max_attempts: u32, mut attempt: F) -> Result<T, E>
where
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut tries = 0u32;
    loop {
        tries += 1;
        match attempt().await {
            Err(error) if tries < max_attempts.max(1) && error.is_retryable() => {
                metrics::counter!("aex_db_transaction_retries_total").increment(1);
                let base_ms = 2u64.saturating_pow(tries.min(8));
                tokio::time::sleep(Duration::from_millis(base_ms + fastrand::u64(0..=base_ms))).await;
            }
            other => return other,
        }
    }
}
