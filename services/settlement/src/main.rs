//! The `aex-settlement` binary: the double-entry ledger, escrow, fee splits, receipts and audit.

use aex_common::runtime;
use aex_settlement::{Config, DEFAULT_PORT, SERVICE};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    runtime::main::<Config, _, _>(SERVICE, DEFAULT_PORT, aex_settlement::run).await
}
