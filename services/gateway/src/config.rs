//! Configuration of the gateway service: flags, each with an environment variable (`--help`).

use aex_common::auth::ServiceTokenArgs;
use aex_common::db::DbArgs;
use aex_common::events::NatsArgs;
use aex_common::runtime::{ServiceArgs, ServiceConfig};
use clap::Parser;

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
    /// Redis URL for rate limits and the idempotency replay cache.
    #[arg(long = "redis-url", env = "REDIS_URL", default_value = "redis://127.0.0.1:6379", hide_env_values = true)]
    pub redis_url: aex_common::secret::Secret<String>,
}

impl ServiceConfig for Config {
    fn service(&self) -> &ServiceArgs {
        &self.service
    }
}
