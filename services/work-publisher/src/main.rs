//! The `aex-work-publisher` binary: providers, subscriptions, work, sealed bids, bid windows and contracts.

use aex_common::runtime;
use aex_work_publisher::{Config, DEFAULT_PORT, SERVICE};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    runtime::main::<Config, _, _>(SERVICE, DEFAULT_PORT, aex_work_publisher::run).await
}
