//! Configuration of the bid-evaluator service: flags, each with an environment variable (`--help`).

use aex_common::auth::ServiceTokenArgs;
use aex_common::db::DbArgs;
use aex_common::events::NatsArgs;
use aex_common::http_client::HttpClientConfig;
use aex_common::runtime::{ServiceArgs, ServiceConfig};
use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "aex-bid-evaluator",
    version,
    about = "AEX bid-evaluator: scoring, disqualification and ranking of bids"
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
    /// Base URL of work-publisher (sealed bids after close).
    #[arg(long = "work-publisher-url", env = "AEX_WORK_PUBLISHER_URL", default_value = "http://127.0.0.1:8081")]
    pub work_publisher_url: String,
    /// Base URL of certauth (trust, tier and certified capabilities).
    #[arg(long = "certauth-url", env = "AEX_CERTAUTH_URL", default_value = "http://127.0.0.1:8091")]
    pub certauth_url: String,
}

impl ServiceConfig for Config {
    fn service(&self) -> &ServiceArgs {
        &self.service
    }
}
