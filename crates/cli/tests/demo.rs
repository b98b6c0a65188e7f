//! `aex demo` and `aex bench` against the whole platform (the five real services in this process
//! on real Postgres, Redis and NATS, reached through the gateway): every step must check out.
//! One test binary for both, so the platform starts and links once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aex_cli::cli::{Cli, Command};
use aex_cli::output::Out;
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

#[tokio::test]
async fn the_balance_bench_runs_through_the_gateway_without_errors() {
    let stack = aex_e2e::stack();
    let cli = Cli::try_parse_from([
        "aex",
        "bench",
        "--gateway",
        stack.gateway.base_url.as_str(),
        "--admin-key",
        stack.admin_key.as_str(),
        "--seconds",
        "2",
        "--concurrency",
        "4",
        "--scenario",
        "balance",
    ])
    .unwrap();
    let Command::Bench(args) = &cli.command else { panic!("not bench") };
    let summary = aex_cli::bench::measure(&cli.global, Out { json: false }, args).await.unwrap();
    assert!(summary.ok > 0, "{summary:?}");
    assert_eq!((summary.failed, summary.errors.len()), (0, 0), "{summary:?}");
    assert_eq!(summary.requests, summary.ok);
    assert!(summary.p50_us > 0 && summary.p50_us <= summary.p99_us && summary.p99_us <= summary.max_us, "{summary:?}");
    // The run lasts its two seconds, and no longer than one request after them.
    assert!((2_000..30_000).contains(&summary.elapsed_ms), "{summary:?}");
}

#[tokio::test]
async fn the_money_benches_move_cents_with_fresh_keys_and_ids_without_errors() {
    let stack = aex_e2e::stack();
    for scenario in ["deposit", "transfer"] {
        let cli = Cli::try_parse_from([
            "aex",
            "bench",
            "--gateway",
            stack.gateway.base_url.as_str(),
            "--admin-key",
            stack.admin_key.as_str(),
            "--seconds",
            "1",
            "--concurrency",
            "2",
            "--scenario",
            scenario,
        ])
        .unwrap();
        let Command::Bench(args) = &cli.command else { panic!("not bench") };
        let summary = aex_cli::bench::measure(&cli.global, Out { json: true }, args).await.unwrap();
        // A reused transfer id or Idempotency-Key would answer EXISTS or a conflict, not 2xx.
        assert!(summary.ok > 0, "{scenario}: {summary:?}");
        assert_eq!(summary.failed, 0, "{scenario}: {summary:?}");
    }
}
