//! Configuration of the settlement service: flags, each with an environment variable (`--help`).

use aex_common::auth::ServiceTokenArgs;
use aex_common::db::DbArgs;
use aex_common::events::NatsArgs;
use aex_common::http_client::HttpClientConfig;
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
    #[command(flatten)]
    pub http: HttpClientConfig,
    /// Where the other settlement instances reach this one (e.g. `http://10.0.3.7:8088`). Set,
    /// the instance takes part in the ledger writer election: one instance commits the
    /// batches of all (ADR 0014). Unset, it still hands its batches to a writer it finds.
    #[arg(long = "advertise-url", env = "AEX_SETTLEMENT_ADVERTISE_URL")]
    pub advertise_url: Option<url::Url>,
    /// Lifetime of the ledger writer lease, in seconds; renewed every third of it. A writer
    /// that dies unannounced is replaced after at most this long (a clean stop hands over at once).
    #[arg(long = "ledger-writer-lease-seconds", env = "AEX_LEDGER_WRITER_LEASE_SECONDS", default_value_t = 6,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub ledger_writer_lease_seconds: u64,
    /// Handoffs a follower keeps waiting for the writer at once. Fewer make larger handoffs
    /// (less overhead per transfer); more keep the writer's every batch fed.
    #[arg(long = "ledger-handoffs-in-flight", env = "AEX_LEDGER_HANDOFFS_IN_FLIGHT", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(1..=16))]
    pub ledger_handoffs_in_flight: u64,
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
