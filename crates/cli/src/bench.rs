//! `aex bench`: one scenario through the gateway for a while with a number of concurrent tasks,
//! then throughput, latency percentiles and errors by status and code. An entry point for a
//! quick measurement, not a load-test framework.

use crate::cli::{BenchArgs, Global, Scenario};
use crate::output::{CliError, Out, money};
use aex_client::Client;
use aex_client::identity::{NewTenant, TenantType};
use aex_client::money::{Funds, NewTransfer};
use aex_types::{AccountId, Currency, Money};
use clap::ValueEnum;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, CliError>;

const CURRENCY: Currency = Currency::USD;
/// What each money-moving request moves: one cent.
const AMOUNT_MINOR: i64 = 1;
/// What the bench's own payer deposits for the transfer scenario: a hundred million cents.
const PAYER_FUNDS_MINOR: i64 = 100_000_000;

/// The figures of a run. Latencies are those of the successful requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    pub elapsed_ms: u64,
    /// All requests, successful or not, per second of the run.
    pub requests_per_second: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Failed requests by `STATUS CODE` (`429 RATE_LIMITED`), or by code alone when there was
    /// no answer (`UNREACHABLE`).
    pub errors: BTreeMap<String, u64>,
}

/// The latency at percentile `q` (1–100) of `sorted` by the nearest-rank method.
pub fn percentile(sorted: &[Duration], q: u64) -> Option<Duration> {
    let n = sorted.len() as u64;
    if n == 0 {
        return None;
    }
    let rank = (q.clamp(1, 100) * n).div_ceil(100).clamp(1, n);
    sorted.get(usize::try_from(rank - 1).ok()?).copied()
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The summary of a run of `elapsed` with these successful-request latencies and errors.
pub fn summarize(mut latencies: Vec<Duration>, errors: BTreeMap<String, u64>, elapsed: Duration) -> Summary {
    latencies.sort_unstable();
    let ok = latencies.len() as u64;
    let failed: u64 = errors.values().sum();
    let requests = ok + failed;
    let per_second = u128::from(requests) * 1_000_000 / elapsed.as_micros().max(1);
    let at = |q| percentile(&latencies, q).map(micros).unwrap_or_default();
    Summary {
        requests,
        ok,
        failed,
        elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        requests_per_second: u64::try_from(per_second).unwrap_or(u64::MAX),
        p50_us: at(50),
        p99_us: at(99),
        max_us: latencies.last().copied().map(micros).unwrap_or_default(),
        errors,
    }
}

/// `3.21 ms` from microseconds.
fn ms(us: u64) -> String {
    format!("{}.{:02} ms", us / 1_000, (us % 1_000) / 10)
}

/// The summary as text, one figure a line.
pub fn summary_text(scenario: &str, args: &BenchArgs, summary: &Summary) -> String {
    let mut text = format!(
        "bench {scenario}: {} tasks for {}.{:01} s\n  requests    {} ({} ok, {} failed)\n  throughput  {} requests/s\n  latency     p50 {}  p99 {}  max {}  (successful requests)",
        args.concurrency,
        summary.elapsed_ms / 1_000,
        (summary.elapsed_ms % 1_000) / 100,
        summary.requests,
        summary.ok,
        summary.failed,
        summary.requests_per_second,
        ms(summary.p50_us),
        ms(summary.p99_us),
        ms(summary.max_us),
    );
    if summary.errors.is_empty() {
        text.push_str("\n  errors      none");
    }
    for (i, (code, count)) in summary.errors.iter().enumerate() {
        let label = if i == 0 { "errors" } else { "" };
        text.push_str(&format!("\n  {label:<10}  {count:>6}  {code}"));
    }
    text
}

/// What the run calls with.
struct Target {
    client: Client,
    /// For transfers: the payer's account and the payee's.
    accounts: Option<(AccountId, AccountId)>,
}

/// Failed requests are counted by what the user would see: `STATUS CODE`, or the local code.
fn error_key(error: aex_client::Error) -> String {
    let error = CliError::Api(error);
    match error.status() {
        Some(status) => format!("{status} {}", error.code()),
        None => error.code(),
    }
}

async fn call(target: &Target, scenario: Scenario, id: &str) -> std::result::Result<(), aex_client::Error> {
    let amount = Money::from_minor(AMOUNT_MINOR, CURRENCY);
    match (scenario, &target.accounts) {
        (Scenario::Balance, _) => target.client.balance().get(Some(CURRENCY)).await.map(drop),
        (Scenario::Deposit, _) => {
            let funds = Funds { amount, payment_reference: Some("aex bench".into()) };
            target.client.deposits().idempotency_key(id).create(&funds).await.map(drop)
        }
        (Scenario::Transfer, Some((from, to))) => {
            let transfer = NewTransfer::posted(id, from.clone(), to.clone(), amount).reference("aex bench");
            target.client.transfers().idempotency_key(id).create(&transfer).await.map(drop)
        }
        (Scenario::Transfer, None) => Err(aex_client::Error::InvalidInput("no accounts to transfer between".into())),
    }
}

/// What one task saw.
#[derive(Default)]
struct Samples {
    latencies: Vec<Duration>,
    errors: BTreeMap<String, u64>,
}

async fn task(target: Arc<Target>, scenario: Scenario, deadline: Instant, prefix: String) -> Samples {
    let mut samples = Samples::default();
    let mut n = 0u64;
    while Instant::now() < deadline {
        // Unique forever: a transfer id and an Idempotency-Key are never reused.
        let id = format!("{prefix}-{n}");
        n += 1;
        let started = Instant::now();
        match call(&target, scenario, &id).await {
            Ok(()) => samples.latencies.push(started.elapsed()),
            Err(error) => *samples.errors.entry(error_key(error)).or_default() += 1,
        }
    }
    samples
}

/// A tenant made by the operator for this run, and its key.
async fn create_tenant(global: &Global, out: Out, name: String, tenant_type: TenantType) -> Result<String> {
    let created = global.operator()?.tenants().create(&NewTenant::new(name, tenant_type)).await?;
    out.progress(&format!("created tenant {} ({}) for the run", created.tenant.id, created.tenant.name));
    Ok(created.api_key.secret()?.expose().to_string())
}

/// The caller's account in the bench currency.
async fn own_account(client: &Client, whose: &str) -> Result<AccountId> {
    let accounts = client.accounts().list().await?;
    accounts.accounts.into_iter().find(|a| a.currency == CURRENCY).map(|a| a.id).ok_or_else(|| {
        CliError::Usage(format!(
            "{whose} has no {CURRENCY} account yet: deposit first, or let aex bench create a tenant"
        ))
    })
}

/// The payer's account (funded when the tenant is the bench's own) and the payee's: `--to`, or
/// the account of a payee tenant made for the run.
async fn transfer_accounts(
    global: &Global,
    out: Out,
    args: &BenchArgs,
    payer: &Client,
    own_payer: bool,
    run: &str,
) -> Result<(AccountId, AccountId)> {
    if own_payer {
        let funds = Funds::new(Money::from_minor(PAYER_FUNDS_MINOR, CURRENCY));
        payer.deposits().idempotency_key(format!("{run}-funds")).create(&funds).await?;
        out.progress(&format!("deposited {} for the transfers", money(PAYER_FUNDS_MINOR, CURRENCY)));
    }
    let from = own_account(payer, "the tenant of --api-key").await?;
    let to = match &args.to {
        Some(text) => text.parse().map_err(|_| CliError::Usage(format!("{text:?} is not an account id")))?,
        None => {
            let key = create_tenant(global, out, format!("{run} payee"), TenantType::Provider).await?;
            let payee = global.with_key(&key)?;
            // A tenant's account opens with its first deposit.
            let opening = Funds::new(Money::from_minor(AMOUNT_MINOR, CURRENCY));
            payee.deposits().idempotency_key(format!("{run}-payee-opening")).create(&opening).await?;
            own_account(&payee, "the payee").await?
        }
    };
    Ok((from, to))
}

pub async fn bench(global: &Global, out: Out, args: BenchArgs) -> Result<()> {
    let summary = measure(global, out, &args).await?;
    if summary.ok == 0 {
        return Err(CliError::check(format!("no request succeeded in {} requests", summary.requests)));
    }
    Ok(())
}

/// Prepares the tenant (and accounts), runs the scenario, prints the summary and returns it.
pub async fn measure(global: &Global, out: Out, args: &BenchArgs) -> Result<Summary> {
    let scenario = args.scenario.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
    let run = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let (key, own) = match global.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        Some(key) => (key.to_string(), false),
        None => (create_tenant(global, out, run.clone(), TenantType::Requestor).await?, true),
    };
    let accounts = match args.scenario {
        Scenario::Transfer => Some(transfer_accounts(global, out, args, &global.with_key(&key)?, own, &run).await?),
        Scenario::Balance | Scenario::Deposit => None,
    };
    // No retries: every request is measured and counted once.
    let target = Arc::new(Target { client: global.without_retries(&key)?, accounts });

    out.progress(&format!(
        "running {scenario} through {} for {} s with {} tasks",
        global.gateway_url, args.seconds, args.concurrency
    ));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let handles: Vec<_> = (0..args.concurrency)
        .map(|n| tokio::spawn(task(target.clone(), args.scenario, deadline, format!("{run}-{n}"))))
        .collect();
    let mut all = std::pin::pin!(futures::future::join_all(handles));
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let finished = loop {
        tokio::select! {
            finished = &mut all => break finished,
            _ = ticker.tick() => out.tick(),
        }
    };
    let elapsed = started.elapsed();
    out.progress("");

    let mut latencies = Vec::new();
    let mut errors = BTreeMap::new();
    for samples in finished {
        let samples = samples.map_err(|e| CliError::check(format!("a bench task failed: {e}")))?;
        latencies.extend(samples.latencies);
        for (code, count) in samples.errors {
            *errors.entry(code).or_default() += count;
        }
    }
    let summary = summarize(latencies, errors, elapsed);
    let mut value = json!({ "scenario": scenario, "concurrency": args.concurrency, "seconds": args.seconds });
    if let (Some(object), Ok(serde_json::Value::Object(figures))) =
        (value.as_object_mut(), serde_json::to_value(&summary))
    {
        object.extend(figures);
    }
    out.result(|| summary_text(&scenario, args, &summary), &value);
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms_list(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let sorted = ms_list(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&sorted, 50), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&sorted, 99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&sorted, 100), Some(Duration::from_millis(100)));
        // Ten samples: p99 is the largest, p50 the fifth.
        let ten = ms_list(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(percentile(&ten, 99), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&ten, 50), Some(Duration::from_millis(5)));
        assert_eq!(percentile(&ms_list(&[7]), 50), Some(Duration::from_millis(7)));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn the_summary_counts_every_request_and_sorts_latencies_itself() {
        let errors = BTreeMap::from([("429 RATE_LIMITED".to_string(), 3), ("UNREACHABLE".to_string(), 1)]);
        let latencies = ms_list(&[40, 10, 30, 20, 1_000, 50]);
        let summary = summarize(latencies, errors.clone(), Duration::from_secs(2));
        assert_eq!(
            summary,
            Summary {
                requests: 10,
                ok: 6,
                failed: 4,
                elapsed_ms: 2_000,
                requests_per_second: 5,
                p50_us: 30_000,
                p99_us: 1_000_000,
                max_us: 1_000_000,
                errors,
            }
        );
        let empty = summarize(Vec::new(), BTreeMap::new(), Duration::ZERO);
        assert_eq!((empty.requests, empty.requests_per_second, empty.p50_us, empty.max_us), (0, 0, 0, 0));
    }

    #[test]
    fn the_text_shows_throughput_latency_and_each_error_code() {
        let errors = BTreeMap::from([("402 INSUFFICIENT_FUNDS".to_string(), 2), ("429 RATE_LIMITED".to_string(), 5)]);
        let summary = summarize(ms_list(&[3, 4]), errors, Duration::from_millis(2_500));
        let args = BenchArgs { seconds: 2, concurrency: 4, scenario: Scenario::Transfer, to: None };
        let text = summary_text("transfer", &args, &summary);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "bench transfer: 4 tasks for 2.5 s");
        assert_eq!(lines[1], "  requests    9 (2 ok, 7 failed)");
        assert_eq!(lines[2], "  throughput  3 requests/s");
        assert_eq!(lines[3], "  latency     p50 3.00 ms  p99 4.00 ms  max 4.00 ms  (successful requests)");
        assert_eq!(lines[4], "  errors           2  402 INSUFFICIENT_FUNDS");
        assert_eq!(lines[5], "                   5  429 RATE_LIMITED");
    }
}
