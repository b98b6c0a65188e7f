//! The `aex-bid-evaluator` binary: scoring, disqualification and ranking of bids.

use aex_bid_evaluator::{Config, DEFAULT_PORT, SERVICE};
use aex_common::runtime;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    runtime::main::<Config, _, _>(SERVICE, DEFAULT_PORT, aex_bid_evaluator::run).await
}
