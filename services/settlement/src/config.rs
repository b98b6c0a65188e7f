//! Configuration of the settlement service: flags, each with an environment variable (`--help`).

use aex_common::auth::ServiceTokenArgs;
use aex_common::db::DbArgs;
use aex_common::events::NatsArgs;
use aex_common::runtime::{ServiceArgs, ServiceConfig};
use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "aex-settlement",
    version,
    about = "AEX settlement: the double-entry ledger, escrow, fee splits, receipts and audit"
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
    /// Key-encryption key (32 bytes, hex or base64) sealing the receipt signing key at rest;
    /// required in production.
    #[arg(long = "receipt-kek", env = "AEX_SETTLEMENT_KEK", hide_env_values = true)]
    pub receipt_kek: Option<aex_common::secret::Secret<String>>,
    /// How often the journal head is signed (when it moved), in seconds.
    #[arg(long = "journal-sign-interval-seconds", env = "AEX_JOURNAL_SIGN_INTERVAL_SECONDS", default_value_t = 60)]
    pub journal_sign_interval_seconds: u64,
}

impl ServiceConfig for Config {
    fn service(&self) -> &ServiceArgs {
        &self.service
    }
}
