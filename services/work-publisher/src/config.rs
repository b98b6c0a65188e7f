//! Configuration of the work-publisher service: flags, each with an environment variable (`--help`).

use aex_common::auth::ServiceTokenArgs;
use aex_common::db::DbArgs;
use aex_common::events::NatsArgs;
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
}

impl ServiceConfig for Config {
    fn service(&self) -> &ServiceArgs {
        &self.service
    }
}
