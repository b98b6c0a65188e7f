//! `aex demo` and `aex bench` against the whole platform (the five real services in this process
//! on real Postgres, Redis and NATS, reached through the gateway): every step must check out.
//! One test binary for both, so the platform starts and links once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aex_cli::cli::{Cli, Command};
use aex_cli::output::Out;
use clap::Parser;

/// `aex <args>` aimed at the in-process platform's gateway with the operator key.
fn aex(args: &[&str]) -> Cli {
    let stack = aex_e2e::stack();
    let connection = ["--gateway", stack.gateway.base_url.as_str(), "--admin-key", stack.admin_key.as_str()];
    let (command, rest) = args.split_first().expect("a command");
    let line = ["aex", command].into_iter().chain(connection).chain(rest.iter().copied());
    Cli::try_parse_from(line).unwrap()
}

#[tokio::test]
async fn the_demo_runs_every_step_green_through_the_gateway() {
    let cli = aex(&["demo", "--wait-secs", "90"]);
    let started = std::time::Instant::now();
    let outcome = aex_cli::run(cli).await;
    assert!(outcome.is_ok(), "the demo failed: {:?}", outcome.err());
    println!("aex demo: every step passed in {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test]
async fn the_balance_bench_runs_through_the_gateway_without_errors() {
    let cli = aex(&["bench", "--seconds", "2", "--concurrency", "4", "--scenario", "balance"]);
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
    for scenario in ["deposit", "transfer", "batch"] {
        let cli = aex(&["bench", "--seconds", "1", "--concurrency", "2", "--scenario", scenario]);
        let Command::Bench(args) = &cli.command else { panic!("not bench") };
        let summary = aex_cli::bench::measure(&cli.global, Out { json: true }, args).await.unwrap();
        // A reused transfer id or Idempotency-Key would answer EXISTS or a conflict, not 2xx.
        assert!(summary.ok > 0, "{scenario}: {summary:?}");
        assert_eq!(summary.failed, 0, "{scenario}: {summary:?}");
    }
}
