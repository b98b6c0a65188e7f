//! The `aex-gateway` binary: the only door into AEX: tenants, API keys, JWT, scopes, rate limits, idempotency and routing.

use aex_common::runtime;
use aex_gateway::{Config, DEFAULT_PORT, SERVICE};
use std::process::ExitCode;

/// mimalloc: per-thread free lists instead of glibc's arenas, which the request path's many
/// small short-lived allocations contend on (docs/perf/gateway.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    runtime::main::<Config, _, _>(SERVICE, DEFAULT_PORT, aex_gateway::run).await
}
