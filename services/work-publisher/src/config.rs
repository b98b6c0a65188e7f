//! Configuration of the work-publisher service: flags, each with an environment variable (`--help`).

use aex_common::auth::ServiceTokenArgs;
use aex_common::db::DbArgs;
use aex_common::events::NatsArgs;
use aex_common::http_client::HttpClientConfig;
use aex_common::runtime::{ServiceArgs, ServiceConfig};
use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "aex-work-publisher",
    version,
    about = "AEX work-publisher: providers, subscriptions, work, sealed bids, bid windows and contracts"
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
    pub http: HttpClientConfig,
    /// Base URL of settlement (escrow holds at award).
    #[arg(long = "settlement-url", env = "AEX_SETTLEMENT_URL", default_value = "http://127.0.0.1:8088")]
    pub settlement_url: String,
    /// Time a provider has from award to completion before the contract expires.
    #[arg(long = "contract-ttl-seconds", env = "AEX_CONTRACT_TTL_SECONDS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=30 * 24 * 3600))]
    pub contract_ttl_seconds: u64,
    /// Webhook deliveries: attempts before a delivery is given up.
    #[arg(long = "webhook-max-attempts", env = "AEX_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub webhook_max_attempts: u32,
    /// Webhook deliveries: the first retry's delay in milliseconds; it doubles per attempt.
    #[arg(long = "webhook-backoff-ms", env = "AEX_WEBHOOK_BACKOFF_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub webhook_backoff_ms: u64,
}

impl ServiceConfig for Config {
    fn service(&self) -> &ServiceArgs {
        &self.service
    }
}
