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

#[tokio::test]
async fn a_prefilled_bench_commits_its_transfers_first_and_refuses_a_scenario_without_accounts() {
    use aex_client::identity::TenantType;
    use aex_client::money::Funds;
    use aex_types::{Currency, Money};
    let stack = aex_e2e::stack();
    let (payer, payer_client) = stack.tenant(TenantType::Requestor).await;
    let (_, payee_client) = stack.tenant(TenantType::Provider).await;
    let funds = |minor| Funds::new(Money::from_minor(minor, Currency::USD));
    payer_client.deposits().idempotency_key("prefill-funds").create(&funds(100_000)).await.unwrap();
    payee_client.deposits().idempotency_key("prefill-opening").create(&funds(1)).await.unwrap();
    let payee_account = payee_client.accounts().list().await.unwrap().accounts[0].id.to_string();

    let key = payer.api_key.secret().unwrap().expose().to_string();
    let line = ["bench", "--api-key", &key, "--to", &payee_account, "--scenario", "transfer", "--prefill", "250"];
    let cli = aex(&[&line[..], &["--seconds", "1", "--concurrency", "2"]].concat());
    let Command::Bench(args) = &cli.command else { panic!("not bench") };
    let summary = aex_cli::bench::measure(&cli.global, Out { json: true }, args).await.unwrap();
    assert!(summary.ok > 0 && summary.failed == 0, "{summary:?}");
    // Three batches of 100 before the run, then one cent per successful transfer of the run.
    let payee = payee_client.accounts().list().await.unwrap().accounts[0].clone();
    assert_eq!(payee.credits_posted, 1 + 300 + summary.ok as i64, "{payee:?}");

    let cli = aex(&["bench", "--seconds", "1", "--scenario", "balance", "--prefill", "100"]);
    let Command::Bench(args) = &cli.command else { panic!("not bench") };
    let refused = aex_cli::bench::measure(&cli.global, Out { json: true }, args).await.unwrap_err();
    assert!(refused.to_string().contains("--prefill"), "{refused}");
}
