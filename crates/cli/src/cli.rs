//! The command line: global options (gateway, credentials, `--json`) and every subcommand.

use aex_client::Client;
use aex_client::identity::TenantType;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the local stack writes the operator key (relative to the checkout).
pub const ADMIN_KEY_FILE: &str = ".local/secrets/admin_api_key";

/// The AEX command line: the marketplace demo and operator commands, all through the gateway.
#[derive(Debug, Parser)]
#[command(name = "aex", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand shares.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The gateway's base URL.
    #[arg(long = "gateway", env = "AEX_GATEWAY_URL", default_value = "http://127.0.0.1:8080", global = true)]
    pub gateway_url: String,
    /// A tenant API key (`aexk_…`) for tenant commands.
    #[arg(long, env = "AEX_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    /// The operator (admin) API key. Without it, the file of --admin-key-file is read.
    #[arg(long, env = "AEX_ADMIN_API_KEY", hide_env_values = true, global = true)]
    pub admin_key: Option<String>,
    /// Where to read the operator key when --admin-key is not given: this path, or when it is
    /// relative, this path under the current directory or any of its parents.
    #[arg(long, env = "AEX_ADMIN_KEY_FILE", default_value = ADMIN_KEY_FILE, global = true)]
    pub admin_key_file: PathBuf,
    /// Print machine-readable JSON on stdout (progress and errors still go to stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30, global = true)]
    pub timeout_secs: u64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The marketplace story end to end through the gateway; exits 0 only if every step checked out.
    Demo(DemoArgs),
    /// Tenants [operator].
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// API keys of a tenant: create, list, rotate, revoke [the tenant or operator].
    #[command(subcommand)]
    Key(KeyCommand),
    /// Certificate requests and certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// The ledger journal: export, and verification offline or by the server.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Settlement receipts: fetch, verify offline, show the published keys.
    #[command(subcommand)]
    Receipt(ReceiptCommand),
    /// Dead letters: events a consumer gave up on, listed and replayed from NATS [operator, direct NATS access].
    Deadletter(DeadletterArgs),
    /// A short load run through the gateway: requests/s, latency percentiles, errors by code.
    Bench(BenchArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Bid window of the demo's work in milliseconds (5000–300000).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(5_000..=300_000))]
    pub bid_window_ms: u32,
    /// How long to wait for each asynchronous effect (window close, ranking, settlement, reputation).
    #[arg(long, default_value_t = 60)]
    pub wait_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TenantKind {
    Requestor,
    Provider,
    Both,
}

impl From<TenantKind> for TenantType {
    fn from(kind: TenantKind) -> Self {
        match kind {
            TenantKind::Requestor => TenantType::Requestor,
            TenantKind::Provider => TenantType::Provider,
            TenantKind::Both => TenantType::Both,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints its first API key once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long = "type", value_enum, default_value = "requestor")]
        tenant_type: TenantKind,
        #[arg(long)]
        contact_email: Option<String>,
    },
    /// Show a tenant.
    Get { tenant_id: String },
    /// Suspend a tenant: its keys stop working at once.
    Suspend {
        tenant_id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Activate a suspended tenant.
    Activate {
        tenant_id: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key; prints the secret once.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// Scopes, comma separated or repeated (e.g. work:submit,billing:write).
        #[arg(long = "scope", value_delimiter = ',', required = true)]
        scopes: Vec<String>,
    },
    /// List a tenant's keys (never their secrets).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Rotate a key: a new secret; the old one stays valid for the grace period.
    Rotate {
        #[arg(long)]
        tenant: String,
        key_id: String,
        #[arg(long)]
        grace_seconds: Option<u64>,
    },
    /// Revoke a key at once.
    Revoke {
        #[arg(long)]
        tenant: String,
        key_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Approve a certificate request [operator].
    Approve { request_id: String },
    /// Reject a certificate request [operator].
    Reject {
        request_id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Show a certificate.
    Get { certificate_id: String },
    /// Ask certauth whether a certificate is valid now.
    Verify { certificate_id: String },
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Export the whole journal chain [operator] to a file (or stdout).
    Export {
        /// Write here instead of stdout.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Links per page.
        #[arg(long, default_value_t = 1_000)]
        page_size: u32,
    },
    /// Verify the chain. With FILE (an export): offline, recomputing every hash; the signed head
    /// is checked with the published receipt keys. Without FILE: the server's full verification [operator].
    Verify {
        file: Option<PathBuf>,
        /// The published receipt keys as JSON (`aex receipt keys --json`) instead of asking the gateway.
        #[arg(long)]
        keys: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Fetch the signed receipt of a settled contract [a party].
    Get {
        contract_id: String,
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Verify a receipt file offline with the published key of its version.
    Verify {
        file: PathBuf,
        /// The published receipt keys as JSON instead of asking the gateway.
        #[arg(long)]
        keys: Option<PathBuf>,
    },
    /// Show the published receipt verification keys.
    Keys,
    /// Retire the active receipt signing key and sign with a new version [operator].
    RotateKey,
}

/// Where the dead letters are: the platform's NATS, not the gateway.
#[derive(Debug, Clone, Args)]
pub struct NatsOptions {
    /// The NATS server (the local stack's is nats://127.0.0.1:14222; `deploy/local/stack env`).
    #[arg(long = "nats-url", env = "NATS_URL", default_value = "nats://127.0.0.1:4222", global = true)]
    pub nats_url: String,
    /// The namespace prefixing stream and subject names: empty in production, the services' own elsewhere.
    #[arg(long = "nats-namespace", env = "AEX_NATS_NAMESPACE", default_value = "", global = true)]
    pub nats_namespace: String,
}

#[derive(Debug, Args)]
pub struct DeadletterArgs {
    #[command(flatten)]
    pub nats: NatsOptions,
    #[command(subcommand)]
    pub command: DeadletterCommand,
}

/// The services that consume events; a consumer's name starts with its service's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Service {
    WorkPublisher,
    BidEvaluator,
    Settlement,
    Certauth,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::WorkPublisher => "work-publisher",
            Service::BidEvaluator => "bid-evaluator",
            Service::Settlement => "settlement",
            Service::Certauth => "certauth",
        }
    }

    /// Whether `consumer` (e.g. `settlement-contracts`) is one of this service's consumers.
    pub fn owns(self, consumer: &str) -> bool {
        consumer.strip_prefix(self.name()).is_some_and(|rest| rest.starts_with('-'))
    }
}

#[derive(Debug, Subcommand)]
pub enum DeadletterCommand {
    /// List dead letters, oldest first: seq, time, consumer, original subject, attempts, error.
    List {
        /// Only the dead letters of this service's consumers.
        #[arg(long, value_enum)]
        service: Option<Service>,
        /// At most this many.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
        /// Start at this DEADLETTER stream sequence (to page on).
        #[arg(long, default_value_t = 0)]
        from: u64,
    },
    /// Republish the original event of dead letter SEQ to its original subject; the consumer's
    /// inbox makes a redelivery of an event it has since handled harmless.
    Replay {
        seq: u64,
        /// Refuse unless the dead letter belongs to this service's consumers.
        #[arg(long, value_enum)]
        service: Option<Service>,
    },
}

/// What `aex bench` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// `GET /v1/balance`.
    Balance,
    /// `POST /v1/deposits` of 0.01 USD, a fresh Idempotency-Key each.
    Deposit,
    /// `POST /v1/transfers` of 0.01 USD, a unique transfer id and Idempotency-Key each.
    Transfer,
    /// `POST /v1/transfers` with a batch of 100 transfers of 0.01 USD, every id unique and an
    /// Idempotency-Key each; a request counts as one, whatever it holds.
    Batch,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// How long to run.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub seconds: u64,
    /// Tasks calling at once, each with one request in flight.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1_024))]
    pub concurrency: u32,
    #[arg(long, value_enum, default_value = "balance")]
    pub scenario: Scenario,
    /// The account the transfer scenario credits when --api-key is given (without --api-key, a
    /// payee tenant is created).
    #[arg(long)]
    pub to: Option<String>,
    /// Also run the scenario directly against the owning service at this URL (settlement,
    /// e.g. http://127.0.0.1:8088) with a service token, alternating with the gateway runs, and
    /// print the gateway's share.
    #[arg(long, conflicts_with = "direct")]
    pub compare_direct: Option<String>,
    /// Run the scenario only directly against the owning service, at each of these URLs
    /// (repeat the flag): the tasks are spread over the instances in turn. The setup (tenants,
    /// funds) still goes through the gateway.
    #[arg(long)]
    pub direct: Vec<String>,
    /// The service-token secret the direct runs sign with (the local stack's file).
    #[arg(long, default_value = ".local/secrets/service_token_secret")]
    pub service_token_secret_file: std::path::PathBuf,
    /// Alternating gateway/direct rounds of --seconds each, with --compare-direct.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub rounds: u32,
    /// The gateway's process id: its CPU time per request is printed (from /proc).
    #[arg(long)]
    pub gateway_pid: Option<u32>,
    /// The service's process id, for its CPU time per request in the direct runs.
    #[arg(long)]
    pub service_pid: Option<u32>,
    /// Transfers to commit first, in batches of 100 through the gateway (every id new), so the
    /// figures can be compared at a ledger that size; with the transfer or batch scenario.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=50_000_000))]
    pub prefill: u64,
    /// Send transfers without an `Idempotency-Key` (their ids deduplicate them), to compare
    /// with the keyed figures.
    #[arg(long)]
    pub without_idempotency_key: bool,
}

/// Why the configuration cannot make a client.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("no tenant API key: pass --api-key or set AEX_API_KEY")]
    NoApiKey,
    #[error("no operator key: pass --admin-key, set AEX_ADMIN_API_KEY, or run where {0} exists")]
    NoAdminKey(String),
    #[error("cannot read the operator key file {path}: {reason}")]
    AdminKeyFile { path: String, reason: String },
    #[error("client: {0}")]
    Client(String),
}

impl Global {
    fn builder(&self) -> aex_client::ClientBuilder {
        Client::builder(&self.gateway_url)
            .timeout(Duration::from_secs(self.timeout_secs))
            .user_agent(concat!("aex-cli/", env!("CARGO_PKG_VERSION")))
    }

    /// A client without credentials, for public routes.
    pub fn anonymous(&self) -> Result<Client, ConfigError> {
        self.builder().build().map_err(|e| ConfigError::Client(e.to_string()))
    }

    /// A client with any API key (for the demo's tenants).
    pub fn with_key(&self, key: &str) -> Result<Client, ConfigError> {
        self.builder().api_key(key).build().map_err(|e| ConfigError::Client(e.to_string()))
    }

    /// A client with `key` that never retries, so every request is measured and counted once.
    pub fn without_retries(&self, key: &str) -> Result<Client, ConfigError> {
        self.builder().api_key(key).max_retries(0).build().map_err(|e| ConfigError::Client(e.to_string()))
    }

    /// A client with the tenant key.
    pub fn tenant(&self) -> Result<Client, ConfigError> {
        let key = self.api_key.as_deref().filter(|k| !k.trim().is_empty()).ok_or(ConfigError::NoApiKey)?;
        self.with_key(key.trim())
    }

    /// A client with the operator key.
    pub fn operator(&self) -> Result<Client, ConfigError> {
        let key = self.admin_key()?;
        self.with_key(&key)
    }

    /// The operator key if one is configured, else the tenant key (for self-or-admin routes).
    pub fn operator_or_tenant(&self) -> Result<Client, ConfigError> {
        match self.admin_key() {
            Ok(key) => self.with_key(&key),
            Err(ConfigError::NoAdminKey(_)) => self.tenant(),
            Err(other) => Err(other),
        }
    }

    /// The operator key: the flag or variable, else the key file.
    pub fn admin_key(&self) -> Result<String, ConfigError> {
        if let Some(key) = self.admin_key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            return Ok(key.to_string());
        }
        let cwd = std::env::current_dir().unwrap_or_default();
        let Some(path) = find_key_file(&self.admin_key_file, &cwd) else {
            return Err(ConfigError::NoAdminKey(self.admin_key_file.display().to_string()));
        };
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::AdminKeyFile {
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        })?;
        let key = text.trim();
        if key.is_empty() {
            return Err(ConfigError::AdminKeyFile { path: path.display().to_string(), reason: "empty".into() });
        }
        Ok(key.to_string())
    }
}

/// `path` as is when absolute; when relative, under `start` or its nearest parent that has it.
pub fn find_key_file(path: &Path, start: &Path) -> Option<PathBuf> {
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    start.ancestors().map(|dir| dir.join(path)).find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("aex").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn the_demo_takes_the_gateway_the_stack_passes_and_defaults_to_a_five_second_window() {
        let cli = parse(&["demo", "--gateway", "http://127.0.0.1:18080"]);
        assert_eq!(cli.global.gateway_url, "http://127.0.0.1:18080");
        let Command::Demo(args) = cli.command else { panic!("not demo") };
        assert_eq!(args.bid_window_ms, 5_000);
        // Global options may come before the subcommand too.
        let cli = parse(&["--json", "demo", "--bid-window-ms", "6000"]);
        assert!(cli.global.json);
        assert!(matches!(cli.command, Command::Demo(DemoArgs { bid_window_ms: 6_000, .. })));
    }

    #[test]
    fn a_bid_window_outside_the_api_range_is_refused_before_any_call() {
        let error = Cli::try_parse_from(["aex", "demo", "--bid-window-ms", "4999"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn operator_commands_parse_into_their_arguments() {
        let cli =
            parse(&["key", "create", "--tenant", "tenant_1", "--name", "ci", "--scope", "work:submit,billing:write"]);
        let Command::Key(KeyCommand::Create { tenant, name, scopes }) = cli.command else { panic!("not key create") };
        assert_eq!((tenant.as_str(), name.as_str()), ("tenant_1", "ci"));
        assert_eq!(scopes, vec!["work:submit", "billing:write"]);

        let cli = parse(&["key", "rotate", "--tenant", "t", "key_1", "--grace-seconds", "60"]);
        assert!(matches!(cli.command, Command::Key(KeyCommand::Rotate { grace_seconds: Some(60), .. })));
        let cli = parse(&["tenant", "create", "--name", "Acme", "--type", "provider"]);
        assert!(matches!(
            cli.command,
            Command::Tenant(TenantCommand::Create { tenant_type: TenantKind::Provider, .. })
        ));
        let cli = parse(&["journal", "verify", "export.json"]);
        assert!(matches!(cli.command, Command::Journal(JournalCommand::Verify { file: Some(_), keys: None })));
        let cli = parse(&["cert", "approve", "certreq_1"]);
        assert!(matches!(cli.command, Command::Cert(CertCommand::Approve { .. })));
    }

    #[test]
    fn deadletter_and_bench_commands_parse_with_their_defaults() {
        let cli = parse(&["deadletter", "list", "--service", "work-publisher", "--nats-url", "nats://127.0.0.1:14222"]);
        let Command::Deadletter(args) = cli.command else { panic!("not deadletter") };
        assert_eq!(args.nats.nats_url, "nats://127.0.0.1:14222");
        assert!(matches!(
            args.command,
            DeadletterCommand::List { service: Some(Service::WorkPublisher), limit: 50, from: 0 }
        ));
        let cli = parse(&["deadletter", "--nats-namespace", "t1", "replay", "7"]);
        let Command::Deadletter(args) = cli.command else { panic!("not deadletter") };
        assert_eq!(args.nats.nats_namespace, "t1");
        assert!(matches!(args.command, DeadletterCommand::Replay { seq: 7, service: None }));
        let error = Cli::try_parse_from(["aex", "deadletter", "list", "--service", "gateway"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::InvalidValue);

        let cli = parse(&["bench"]);
        let Command::Bench(args) = cli.command else { panic!("not bench") };
        assert_eq!((args.seconds, args.concurrency, args.scenario), (10, 32, Scenario::Balance));
        let cli = parse(&["bench", "--scenario", "transfer", "--seconds", "2", "--concurrency", "4"]);
        assert!(matches!(
            cli.command,
            Command::Bench(BenchArgs { seconds: 2, concurrency: 4, scenario: Scenario::Transfer, .. })
        ));
        let error = Cli::try_parse_from(["aex", "bench", "--concurrency", "0"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn a_service_owns_the_consumers_named_after_it_and_no_others() {
        assert!(Service::Settlement.owns("settlement-contracts"));
        assert!(Service::WorkPublisher.owns("work-publisher-evaluations"));
        assert!(Service::BidEvaluator.owns("bid-evaluator-window-closed"));
        assert!(!Service::Certauth.owns("settlement-contracts"));
        assert!(!Service::Settlement.owns("settlements-x"));
        assert!(!Service::Settlement.owns("settlement"));
    }

    #[test]
    fn the_operator_key_comes_from_the_flag_or_the_nearest_key_file() {
        let dir = std::env::temp_dir().join(format!("aex-cli-{}", uuid::Uuid::new_v4()));
        let nested = dir.join("a/b");
        std::fs::create_dir_all(dir.join(".local/secrets")).unwrap();
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(dir.join(ADMIN_KEY_FILE), "aexk_from_file\n").unwrap();
        let found = find_key_file(Path::new(ADMIN_KEY_FILE), &nested).unwrap();
        assert_eq!(found, dir.join(ADMIN_KEY_FILE));
        assert_eq!(find_key_file(Path::new("no/such/file"), &nested), None);

        let mut global = parse(&["--admin-key-file", found.to_str().unwrap(), "demo"]).global;
        global.admin_key = None;
        assert_eq!(global.admin_key().unwrap(), "aexk_from_file");
        global.admin_key = Some(" aexk_flag ".into());
        assert_eq!(global.admin_key().unwrap(), "aexk_flag");
        global.admin_key = None;
        global.admin_key_file = dir.join("missing");
        assert!(matches!(global.admin_key(), Err(ConfigError::NoAdminKey(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn secrets_are_never_shown_in_help() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("AEX_API_KEY") && help.contains("AEX_ADMIN_API_KEY"), "{help}");
        assert!(help.contains("AEX_GATEWAY_URL"));
    }
}
