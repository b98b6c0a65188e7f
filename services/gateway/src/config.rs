//! Configuration of the gateway service: flags, each with an environment variable (`--help`).

use aex_common::auth::ServiceTokenArgs;
use aex_common::db::DbArgs;
use aex_common::events::NatsArgs;
use aex_common::http_client::HttpClientConfig;
use aex_common::runtime::{Environment, ServiceArgs, ServiceConfig};
use aex_common::secret::Secret;
use clap::Parser;
use std::path::PathBuf;
use url::Url;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "aex-gateway",
    version,
    about = "AEX gateway: the only door into AEX: tenants, API keys, JWT, scopes, rate limits, idempotency and routing"
)]
pub struct Config {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub nats: NatsArgs,
    #[command(flatten)]
    pub tokens: ServiceTokenArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    pub upstreams: UpstreamArgs,
    #[command(flatten)]
    pub http: HttpClientConfig,
    /// Redis URL for rate limits and the idempotency replay cache.
    #[arg(long = "redis-url", env = "REDIS_URL", default_value = "redis://127.0.0.1:6379", hide_env_values = true)]
    pub redis_url: Secret<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Rate limits, the idempotency replay cache, and how they use Redis.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Starts every Redis key the gateway writes, so deployments (and tests) sharing one Redis
    /// never share counters or replayed responses.
    #[arg(long = "redis-key-prefix", env = "AEX_REDIS_KEY_PREFIX", default_value = "aex:")]
    pub redis_key_prefix: String,
    /// Most Redis calls in flight at once; beyond it requests answer 429 `SERVICE_OVERLOADED`
    /// at once instead of queueing.
    #[arg(long = "redis-max-in-flight", env = "AEX_REDIS_MAX_IN_FLIGHT", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub redis_max_in_flight: u32,
    /// Default per-tenant sustained rate, requests per minute (tenant rows may override it).
    #[arg(long = "rate-limit-per-minute", env = "AEX_RATE_LIMIT_PER_MINUTE", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub per_minute: u32,
    /// Default per-tenant burst on top of a minute's requests.
    #[arg(long = "rate-limit-burst", env = "AEX_RATE_LIMIT_BURST", default_value_t = 50)]
    pub burst: u32,
    /// Default per-tenant rate of money routes (deposits, withdrawals, transfers, awards),
    /// requests per minute, in addition to the general limit.
    #[arg(long = "money-rate-limit-per-minute", env = "AEX_MONEY_RATE_LIMIT_PER_MINUTE", default_value_t = 120,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub money_per_minute: u32,
    /// Burst of money routes.
    #[arg(long = "money-rate-limit-burst", env = "AEX_MONEY_RATE_LIMIT_BURST", default_value_t = 10)]
    pub money_burst: u32,
    /// Rate of unauthenticated routes (`/v1/auth/token`, the public feed, keys and CRLs) per
    /// client address, requests per minute.
    #[arg(long = "anonymous-rate-limit-per-minute", env = "AEX_ANONYMOUS_RATE_LIMIT_PER_MINUTE", default_value_t = 600,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub anonymous_per_minute: u32,
    /// Burst of unauthenticated routes per client address.
    #[arg(long = "anonymous-rate-limit-burst", env = "AEX_ANONYMOUS_RATE_LIMIT_BURST", default_value_t = 60)]
    pub anonymous_burst: u32,
    /// Failed authentications (unknown, malformed, revoked or expired credentials) one client
    /// address may cause per minute; past it every credentialed request from the address
    /// answers 429 `AUTHENTICATION_THROTTLED` without a database lookup until the minute ends.
    #[arg(long = "auth-failures-per-minute", env = "AEX_AUTH_FAILURES_PER_MINUTE", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_failures_per_minute: u32,
    /// Failed authentications per minute with API keys that share one display prefix
    /// (`aexk_` + 7 hex), whatever the address: bounds guessing spread over many addresses.
    #[arg(long = "auth-failures-per-key-prefix-per-minute", env = "AEX_AUTH_FAILURES_PER_KEY_PREFIX_PER_MINUTE",
          default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_failures_per_key_prefix_per_minute: u32,
    /// Trusted proxies in front of the gateway that append the address they saw to
    /// `X-Forwarded-For` (1 behind one ingress). 0 uses the connection's peer address and ignores
    /// the header, which a client could forge.
    #[arg(long = "trusted-proxy-hops", env = "AEX_TRUSTED_PROXY_HOPS", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=8))]
    pub trusted_proxy_hops: u8,
    /// How long a fresh (empty) Redis enforces half of every limit, in seconds.
    #[arg(long = "rate-limit-cold-start-seconds", env = "AEX_RATE_LIMIT_COLD_START_SECONDS", default_value_t = 300)]
    pub cold_start_seconds: u64,
    /// How long a first response is replayed for the same `Idempotency-Key`, in seconds.
    #[arg(long = "idempotency-ttl-seconds", env = "AEX_IDEMPOTENCY_TTL_SECONDS", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub idempotency_ttl_seconds: u64,
    /// How long an in-flight claim on an `Idempotency-Key` lives if its request never finishes
    /// (a crashed replica); longer than the request timeout.
    #[arg(long = "idempotency-lock-seconds", env = "AEX_IDEMPOTENCY_LOCK_SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub idempotency_lock_seconds: u64,
}

/// Client credentials: access tokens, the credential cache and the operator key.
#[derive(Debug, Clone, clap::Args)]
pub struct IdentityArgs {
    /// HS256 secret of the access tokens `POST /v1/auth/token` issues (at least 32 bytes;
    /// placeholder values are refused in production). Distinct from the service-token secret.
    #[arg(long = "jwt-secret", env = "AEX_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Secret<String>,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long = "jwt-ttl-seconds", env = "AEX_JWT_TTL_SECONDS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(30..=86_400))]
    pub jwt_ttl_seconds: u64,
    /// Longest time a cached credential is trusted without a database read. Revocation does
    /// not wait for it (it is pushed by NOTIFY); this only bounds a missed notification.
    #[arg(long = "credential-cache-ttl-seconds", env = "AEX_CREDENTIAL_CACHE_TTL_SECONDS", default_value_t = 30)]
    pub credential_cache_ttl_seconds: u64,
    /// How long a key hash that matched no key is remembered, so presenting the same unknown
    /// key again does not read Postgres. Creating a key evicts its hash at once (NOTIFY).
    #[arg(long = "credential-negative-cache-seconds", env = "AEX_CREDENTIAL_NEGATIVE_CACHE_SECONDS",
          default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3_600))]
    pub credential_negative_cache_seconds: u64,
    /// Where to write the operator (admin) API key created at first start, mode 0600. Written
    /// once: when an operator key already exists nothing is created or written.
    #[arg(long = "admin-key-file", env = "AEX_ADMIN_KEY_FILE")]
    pub admin_key_file: Option<PathBuf>,
    /// An operator API key provided from a secret (`aexk_` + 64 hex); stored hashed if absent.
    #[arg(long = "admin-api-key", env = "AEX_ADMIN_API_KEY", hide_env_values = true)]
    pub admin_api_key: Option<Secret<String>>,
}

/// Where the services the gateway routes to listen.
#[derive(Debug, Clone, clap::Args)]
pub struct UpstreamArgs {
    #[arg(long = "work-publisher-url", env = "AEX_WORK_PUBLISHER_URL", default_value = "http://127.0.0.1:8081")]
    pub work_publisher_url: Url,
    #[arg(long = "bid-evaluator-url", env = "AEX_BID_EVALUATOR_URL", default_value = "http://127.0.0.1:8083")]
    pub bid_evaluator_url: Url,
    #[arg(long = "settlement-url", env = "AEX_SETTLEMENT_URL", default_value = "http://127.0.0.1:8088")]
    pub settlement_url: Url,
    #[arg(long = "certauth-url", env = "AEX_CERTAUTH_URL", default_value = "http://127.0.0.1:8091")]
    pub certauth_url: Url,
}

impl ServiceConfig for Config {
    fn service(&self) -> &ServiceArgs {
        &self.service
    }
}

/// Refuses a JWT secret the environment does not accept: always at least 32 bytes; in
/// production also no placeholder or repeated-character value.
pub fn check_jwt_secret(secret: &Secret<String>, environment: Environment) -> Result<(), String> {
    use aex_common::auth::{TokenError, validate_secret};
    match (validate_secret(secret.expose()), environment) {
        (Ok(()), _) => Ok(()),
        (Err(TokenError::PlaceholderSecret), Environment::Development) => {
            tracing::warn!("AEX_JWT_SECRET looks like a placeholder; production would refuse to start");
            Ok(())
        }
        (Err(error), _) => Err(format!("AEX_JWT_SECRET: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_secret_rules_per_environment() {
        let short = Secret::new("short".to_string());
        let placeholder = Secret::new("changeme-changeme-changeme-changeme".to_string());
        let strong = Secret::new("q8Zr1VwXk3Jm9Tn2Lp7Hs4Dc6Fb0Ga5Ye1Uo8Ri3We".to_string());
        assert!(check_jwt_secret(&short, Environment::Development).is_err());
        assert!(check_jwt_secret(&short, Environment::Production).is_err());
        assert!(check_jwt_secret(&placeholder, Environment::Development).is_ok());
        assert!(check_jwt_secret(&placeholder, Environment::Production).is_err());
        assert!(check_jwt_secret(&strong, Environment::Production).is_ok());
    }

    #[test]
    fn debug_redacts_secrets() {
        let config = Config::try_parse_from([
            "aex-gateway",
            "--database-url",
            "postgres://u:dbpass@h/d",
            "--service-token-secret",
            "svc-secret-svc-secret-svc-secret-xyz",
            "--jwt-secret",
            "jwt-secret-value-jwt-secret-value-xyz",
            "--admin-api-key",
            "aexk_0000000000000000000000000000000000000000000000000000000000000000",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{config:?}");
        for secret in ["dbpass", "svc-secret", "jwt-secret-value", "aexk_0000"] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
    }
}
