//! The `aex-work-publisher` binary: providers, subscriptions, work, sealed bids, bid windows and contracts.

use aex_common::runtime;
use aex_work_publisher::{Config, DEFAULT_PORT, SERVICE};
use std::process::ExitCode;

/// mimalloc: per-thread free lists instead of glibc's arenas, which the request path's many
/// small short-lived allocations contend on (docs/perf/gateway.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    runtime::main::<Config, _, _>(SERVICE, DEFAULT_PORT, aex_work_publisher::run).await
}
