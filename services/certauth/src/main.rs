//! The `aex-certauth` binary: agent certificates, CRL, trust and reputation.

use aex_certauth::{Config, DEFAULT_PORT, SERVICE};
use aex_common::runtime;
use std::process::ExitCode;

/// mimalloc: per-thread free lists instead of glibc's arenas, which the request path's many
/// small short-lived allocations contend on (docs/perf/gateway.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    runtime::main::<Config, _, _>(SERVICE, DEFAULT_PORT, aex_certauth::run).await
}
