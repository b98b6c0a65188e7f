//! The `aex-certauth` binary: agent certificates, CRL, trust and reputation.

use aex_certauth::{Config, DEFAULT_PORT, SERVICE};
use aex_common::runtime;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    runtime::main::<Config, _, _>(SERVICE, DEFAULT_PORT, aex_certauth::run).await
}
