//! Configuration of the certauth service: flags, each with an environment variable (`--help`).

use aex_common::auth::ServiceTokenArgs;
use aex_common::db::DbArgs;
use aex_common::events::NatsArgs;
use aex_common::runtime::{ServiceArgs, ServiceConfig};
use aex_common::secret::Secret;
use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(name = "aex-certauth", version, about = "AEX certauth: agent certificates, CRL, trust and reputation")]
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
    pub ca: CaArgs,
    #[command(flatten)]
    pub reputation: ReputationArgs,
}

/// The certificate authority's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct CaArgs {
    /// Key-encryption key for CA private keys at rest: 32 bytes as 64 hex digits or base64.
    /// Required with `--env production`; in development, keys are stored unencrypted and flagged.
    #[arg(long = "ca-kek", env = "AEX_CA_KEK", hide_env_values = true)]
    pub ca_kek: Option<Secret<String>>,
    /// Validity of issued agent certificates, in days.
    #[arg(
        long = "cert-validity-days",
        env = "AEX_CERT_VALIDITY_DAYS",
        default_value_t = 365,
        value_parser = clap::value_parser!(u32).range(1..=3650)
    )]
    pub cert_validity_days: u32,
    /// How often the CRL is checked for expiry; it is re-signed when less than a day of its
    /// validity is left, so relying parties never hold a stale one.
    #[arg(
        long = "crl-refresh-seconds",
        env = "AEX_CRL_REFRESH_SECONDS",
        default_value_t = 3_600,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub crl_refresh_seconds: u64,
}

/// Trust and reputation settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ReputationArgs {
    /// How often stale reputation snapshots (an expired certificate, a day of trust decay) are
    /// recomputed, in seconds.
    #[arg(
        long = "reputation-refresh-seconds",
        env = "AEX_REPUTATION_REFRESH_SECONDS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub refresh_seconds: u64,
}

impl ServiceConfig for Config {
    fn service(&self) -> &ServiceArgs {
        &self.service
    }
}
