//! `aex demo` against the whole platform (the five real services in this process on real
//! Postgres, Redis and NATS, reached through the gateway): every step must check out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aex_cli::cli::Cli;
use clap::Parser;

#[tokio::test]
async fn the_demo_runs_every_step_green_through_the_gateway() {
    let stack = aex_e2e::stack();
    let cli = Cli::try_parse_from([
        "aex",
        "demo",
        "--gateway",
        stack.gateway.base_url.as_str(),
        "--admin-key",
        stack.admin_key.as_str(),
        "--wait-secs",
        "90",
    ])
    .unwrap();
    let started = std::time::Instant::now();
    let outcome = aex_cli::run(cli).await;
    assert!(outcome.is_ok(), "the demo failed: {:?}", outcome.err());
    println!("aex demo: every step passed in {:.1} s", started.elapsed().as_secs_f64());
}
