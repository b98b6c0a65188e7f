//! The `aex` command: the marketplace demo and operator commands through the gateway, built on
//! the `aex-client` SDK, plus offline verification of journal exports and receipts, a quick
//! benchmark, and the dead letters of the event consumers (read from NATS directly).

pub mod bench;
pub mod cli;
pub mod commands;
pub mod deadletters;
pub mod demo;
pub mod output;
pub mod verify;

use cli::{Cli, Command};
use output::{CliError, Out};

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    // Two rustls providers are linked (ring through async-nats): one must be chosen.
    aex_common::runtime::install_crypto_provider();
    let out = Out { json: cli.global.json };
    let global = &cli.global;
    match cli.command {
        Command::Demo(args) => demo::run(global, out, args).await,
        Command::Tenant(command) => commands::tenant(global, out, command).await,
        Command::Key(command) => commands::key(global, out, command).await,
        Command::Cert(command) => commands::cert(global, out, command).await,
        Command::Journal(command) => commands::journal(global, out, command).await,
        Command::Receipt(command) => commands::receipt(global, out, command).await,
        Command::Deadletter(args) => deadletters::deadletter(out, args).await,
        Command::Bench(args) => bench::bench(global, out, args).await,
    }
}
