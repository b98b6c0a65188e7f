//! `aex`: parse, run, and exit 0 only when the command did what it said.

use aex_cli::cli::Cli;
use aex_cli::output::Out;
use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Out { json: cli.global.json };
    match aex_cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            out.error(&error);
            ExitCode::FAILURE
        }
    }
}
