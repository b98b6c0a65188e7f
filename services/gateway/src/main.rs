//! The `aex-gateway` binary: the only door into AEX: tenants, API keys, JWT, scopes, rate limits, idempotency and routing.

use aex_common::runtime;
use aex_gateway::{Config, DEFAULT_PORT, SERVICE};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    runtime::main::<Config, _, _>(SERVICE, DEFAULT_PORT, aex_gateway::run).await
}
