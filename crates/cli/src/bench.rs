//! `aex bench`: one scenario through the gateway for a while with a number of concurrent tasks,
//! then throughput, latency percentiles and errors by status and code. An entry point for a
//! quick measurement, not a load-test framework.

use crate::cli::{BenchArgs, Global, Scenario};
use crate::output::{CliError, Out, money};
use aex_client::Client;
use aex_client::identity::{NewTenant, Quotas, TenantType};
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
/// Transfers in one request of the batch scenario.
const BATCH_SIZE: usize = 100;
/// What the bench's own payer deposits for the transfer scenario: a hundred million cents.
const PAYER_FUNDS_MINOR: i64 = 100_000_000;

/// The figures of a run. Latencies are those of the successful requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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
    /// Whether transfers carry an `Idempotency-Key`.
    keyed: bool,
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
    let transfer_options = if target.keyed {
        aex_client::RequestOptions::idempotency_key(id)
    } else {
        aex_client::RequestOptions { without_idempotency_key: true, ..Default::default() }
    };
    match (scenario, &target.accounts) {
        (Scenario::Balance, _) => target.client.balance().get(Some(CURRENCY)).await.map(drop),
        (Scenario::Deposit, _) => {
            let funds = Funds { amount, payment_reference: Some("aex bench".into()) };
            target.client.deposits().idempotency_key(id).create(&funds).await.map(drop)
        }
        (Scenario::Transfer, Some((from, to))) => {
            let transfer = NewTransfer::posted(id, from.clone(), to.clone(), amount).reference("aex bench");
            target.client.transfers().options(transfer_options).create(&transfer).await.map(drop)
        }
        (Scenario::Batch, Some((from, to))) => {
            let batch: Vec<NewTransfer> = (0..BATCH_SIZE)
                .map(|i| {
                    NewTransfer::posted(format!("{id}-{i}"), from.clone(), to.clone(), amount).reference("aex bench")
                })
                .collect();
            let result = target.client.transfers().options(transfer_options).create_batch(&batch).await?;
            match result.results.iter().find(|r| !r.is_committed()) {
                Some(refused) => Err(aex_client::Error::InvalidInput(format!("a batch item was {}", refused.result))),
                None => Ok(()),
            }
        }
        (Scenario::Transfer | Scenario::Batch, None) => {
            Err(aex_client::Error::InvalidInput("no accounts to transfer between".into()))
        }
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

/// The quotas the operator gives the run's tenants: far above what the machine can send, so
/// no request of the run is limited and the gateway's defaults stay as they are.
const BENCH_QUOTA_PER_MINUTE: i32 = 10_000_000;

/// A tenant made by the operator for this run, with quotas no run reaches, and its key.
async fn create_tenant(global: &Global, out: Out, name: String, tenant_type: TenantType) -> Result<String> {
    let operator = global.operator()?;
    let created = operator.tenants().create(&NewTenant::new(name, tenant_type)).await?;
    let quotas = Quotas {
        requests_per_minute: Some(BENCH_QUOTA_PER_MINUTE),
        burst: Some(BENCH_QUOTA_PER_MINUTE),
        money_requests_per_minute: Some(BENCH_QUOTA_PER_MINUTE),
    };
    operator.tenants().set_quotas(&created.tenant.id, &quotas).await?;
    out.progress(&format!("created tenant {} ({}) for the run, quotas raised", created.tenant.id, created.tenant.name));
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
/// With `--compare-direct`, runs alternating rounds through the gateway and directly against
/// the service instead, and returns the gateway's last round.
pub async fn measure(global: &Global, out: Out, args: &BenchArgs) -> Result<Summary> {
    let scenario = args.scenario.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
    let run = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let (key, own) = match global.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        Some(key) => (key.to_string(), false),
        None => (create_tenant(global, out, run.clone(), TenantType::Requestor).await?, true),
    };
    let accounts = match args.scenario {
        Scenario::Transfer | Scenario::Batch => {
            Some(transfer_accounts(global, out, args, &global.with_key(&key)?, own, &run).await?)
        }
        Scenario::Balance | Scenario::Deposit => None,
    };
    // No retries: every request is measured and counted once.
    let keyed = !args.without_idempotency_key;
    let gateway = Arc::new(Target { client: global.without_retries(&key)?, keyed, accounts: accounts.clone() });
    if args.prefill > 0 {
        if accounts.is_none() {
            return Err(CliError::Usage("--prefill needs the transfer or batch scenario".into()));
        }
        prefill(out, gateway.clone(), args.prefill, &run).await?;
    }
    if !args.direct.is_empty() {
        let tenant_id = global.with_key(&key)?.auth().token().await?.tenant_id;
        let token = direct_token(&args.service_token_secret_file, tenant_id.as_str())?;
        let targets = args
            .direct
            .iter()
            .map(|url| direct_target(url, &token, global, keyed, accounts.clone()))
            .collect::<Result<Vec<_>>>()?;
        let summary = run_scenario(out, args, &targets, &args.direct.join(", "), &run).await?;
        let mut value = json!({ "scenario": scenario, "concurrency": args.concurrency, "seconds": args.seconds,
                                "instances": args.direct.len() });
        if let (Some(object), Ok(serde_json::Value::Object(figures))) =
            (value.as_object_mut(), serde_json::to_value(&summary))
        {
            object.extend(figures);
        }
        out.result(|| summary_text(&scenario, args, &summary), &value);
        return Ok(summary);
    }
    let Some(direct_url) = args.compare_direct.as_deref() else {
        let summary = run_scenario(out, args, &[gateway], &global.gateway_url, &run).await?;
        let mut value = json!({ "scenario": scenario, "concurrency": args.concurrency, "seconds": args.seconds });
        if let (Some(object), Ok(serde_json::Value::Object(figures))) =
            (value.as_object_mut(), serde_json::to_value(&summary))
        {
            object.extend(figures);
        }
        out.result(|| summary_text(&scenario, args, &summary), &value);
        return Ok(summary);
    };
    let tenant_id = global.with_key(&key)?.auth().token().await?.tenant_id;
    let token = direct_token(&args.service_token_secret_file, tenant_id.as_str())?;
    let direct = direct_target(direct_url, &token, global, keyed, accounts)?;
    let mut rounds = Vec::new();
    for round in 0..args.rounds {
        // Alternate which side goes first, so drift in the machine's load favours neither.
        let order: [bool; 2] = if round % 2 == 0 { [true, false] } else { [false, true] };
        let mut pair = [None, None];
        for through_gateway in order {
            let (target, url, pid) = if through_gateway {
                (gateway.clone(), global.gateway_url.as_str(), args.gateway_pid)
            } else {
                (direct.clone(), direct_url, args.service_pid)
            };
            let before = pid.and_then(cpu_ticks);
            let summary = run_scenario(out, args, &[target], url, &format!("{run}-r{round}-{through_gateway}")).await?;
            let cpu = cpu_us_per_request(before, pid.and_then(cpu_ticks), summary.requests);
            pair[usize::from(!through_gateway)] = Some(Side { summary, cpu_us_per_request: cpu });
        }
        if let [Some(gateway), Some(direct)] = pair {
            out.progress(&format!(
                "round {}: gateway {} /s, direct {} /s",
                round + 1,
                gateway.summary.requests_per_second,
                direct.summary.requests_per_second
            ));
            rounds.push(Round { gateway, direct });
        }
    }
    let comparison = Comparison::of(&rounds);
    let value = json!({
        "scenario": scenario, "concurrency": args.concurrency, "seconds": args.seconds, "rounds": rounds.len(),
        "comparison": comparison,
    });
    out.result(|| comparison_text(&scenario, args, &comparison), &value);
    rounds.pop().map(|r| r.gateway.summary).ok_or_else(|| CliError::check("no round completed"))
}

/// Batches in flight at once while prefilling.
const PREFILL_TASKS: u64 = 16;

/// Commits at least `count` one-cent transfers from the payer to the payee, in batches of
/// [`BATCH_SIZE`] with every id new, [`PREFILL_TASKS`] batches at a time.
async fn prefill(out: Out, target: Arc<Target>, count: u64, run: &str) -> Result<()> {
    let batches = count.div_ceil(BATCH_SIZE as u64);
    out.progress(&format!("prefilling the ledger with {} transfers", batches * BATCH_SIZE as u64));
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let handles: Vec<_> = (0..PREFILL_TASKS)
        .map(|_| {
            let (target, next, run) = (target.clone(), next.clone(), run.to_string());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= batches {
                        return Ok(());
                    }
                    call(&target, Scenario::Batch, &format!("{run}-prefill-{n}")).await?;
                }
            })
        })
        .collect();
    let finished = join_showing_progress(out, handles).await;
    out.progress("");
    for task in finished {
        let outcome: std::result::Result<(), aex_client::Error> =
            task.map_err(|e| CliError::check(format!("a prefill task failed: {e}")))?;
        outcome?;
    }
    let elapsed = started.elapsed();
    let committed = batches * BATCH_SIZE as u64;
    let per_second = u128::from(committed) * 1_000 / elapsed.as_millis().max(1);
    out.progress(&format!(
        "prefilled {committed} transfers in {:.1} s ({per_second} transfers/s)",
        elapsed.as_secs_f64()
    ));
    Ok(())
}

/// A service token for `tenant_id`, as the gateway would mint it for the bench's requests.
fn direct_token(secret_file: &std::path::Path, tenant_id: &str) -> Result<String> {
    let secret = std::fs::read_to_string(secret_file).map_err(|e| CliError::file(secret_file, e))?;
    let tokens = aex_common::auth::ServiceTokens::new(
        &aex_common::secret::Secret::new(secret.trim().to_string()),
        Duration::from_secs(3_600),
    )
    .map_err(|e| CliError::Usage(format!("the service-token secret in {}: {e}", secret_file.display())))?;
    let scopes = ["read".to_string(), "billing:write".to_string()];
    tokens
        .mint("gateway", Some(tenant_id), &scopes, None)
        .map_err(|e| CliError::Usage(format!("cannot mint a service token: {e}")))
}

/// User plus system CPU time of `pid` so far, in clock ticks (`/proc/PID/stat`).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are fixed.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

/// Linux reports CPU time in units of 1/100 s (`USER_HZ`) on every platform we run on.
const MICROS_PER_TICK: u64 = 10_000;

fn cpu_us_per_request(before: Option<u64>, after: Option<u64>, requests: u64) -> Option<u64> {
    let spent = after?.checked_sub(before?)?;
    (requests > 0).then(|| spent * MICROS_PER_TICK / requests)
}

/// One side of a round.
#[derive(Debug, Clone, Serialize)]
struct Side {
    summary: Summary,
    cpu_us_per_request: Option<u64>,
}

/// A gateway run and a direct run, back to back.
#[derive(Debug, Clone)]
struct Round {
    gateway: Side,
    direct: Side,
}

/// Medians over the rounds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Comparison {
    pub gateway_per_second: u64,
    pub direct_per_second: u64,
    /// Median of each round's gateway/direct throughput, in tenths of a percent.
    pub share_permille: u64,
    pub share_min_permille: u64,
    pub share_max_permille: u64,
    pub gateway_p50_us: u64,
    pub direct_p50_us: u64,
    pub gateway_p99_us: u64,
    pub direct_p99_us: u64,
    pub gateway_cpu_us_per_request: Option<u64>,
    pub service_cpu_us_per_request: Option<u64>,
    pub gateway_errors: u64,
    pub direct_errors: u64,
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

impl Comparison {
    fn of(rounds: &[Round]) -> Self {
        let gateway = |f: fn(&Summary) -> u64| median(rounds.iter().map(|r| f(&r.gateway.summary)).collect());
        let direct = |f: fn(&Summary) -> u64| median(rounds.iter().map(|r| f(&r.direct.summary)).collect());
        let shares: Vec<u64> = rounds
            .iter()
            .map(|r| r.gateway.summary.requests_per_second * 1_000 / r.direct.summary.requests_per_second.max(1))
            .collect();
        let cpu = |side: fn(&Round) -> Option<u64>| {
            let values: Option<Vec<u64>> = rounds.iter().map(side).collect();
            values.filter(|v| !v.is_empty()).map(median)
        };
        Comparison {
            gateway_per_second: gateway(|s| s.requests_per_second),
            direct_per_second: direct(|s| s.requests_per_second),
            share_permille: median(shares.clone()),
            share_min_permille: shares.iter().copied().min().unwrap_or_default(),
            share_max_permille: shares.iter().copied().max().unwrap_or_default(),
            gateway_p50_us: gateway(|s| s.p50_us),
            direct_p50_us: direct(|s| s.p50_us),
            gateway_p99_us: gateway(|s| s.p99_us),
            direct_p99_us: direct(|s| s.p99_us),
            gateway_cpu_us_per_request: cpu(|r| r.gateway.cpu_us_per_request),
            service_cpu_us_per_request: cpu(|r| r.direct.cpu_us_per_request),
            gateway_errors: rounds.iter().map(|r| r.gateway.summary.failed).sum(),
            direct_errors: rounds.iter().map(|r| r.direct.summary.failed).sum(),
        }
    }
}

fn permille(value: u64) -> String {
    format!("{}.{} %", value / 10, value % 10)
}

/// The comparison as text: medians of the rounds, the share, and the CPU per request.
pub fn comparison_text(scenario: &str, args: &BenchArgs, c: &Comparison) -> String {
    let cpu = |v: Option<u64>| v.map(|us| format!("{us} µs")).unwrap_or_else(|| "-".into());
    format!(
        "bench {scenario}: {} rounds of {} s each way, {} tasks (medians)\n\
         \x20 {:<14}{:>12}{:>12}{:>12}{:>16}{:>8}\n\
         \x20 {:<14}{:>12}{:>12}{:>12}{:>16}{:>8}\n\
         \x20 {:<14}{:>12}{:>12}{:>12}{:>16}{:>8}\n\
         \x20 share through the gateway: {} (rounds {} – {}); p50 added: {}",
        args.rounds,
        args.seconds,
        args.concurrency,
        "",
        "requests/s",
        "p50",
        "p99",
        "CPU/request",
        "errors",
        "direct",
        c.direct_per_second,
        ms(c.direct_p50_us),
        ms(c.direct_p99_us),
        cpu(c.service_cpu_us_per_request),
        c.direct_errors,
        "gateway",
        c.gateway_per_second,
        ms(c.gateway_p50_us),
        ms(c.gateway_p99_us),
        cpu(c.gateway_cpu_us_per_request),
        c.gateway_errors,
        permille(c.share_permille),
        permille(c.share_min_permille),
        permille(c.share_max_permille),
        ms(c.gateway_p50_us.saturating_sub(c.direct_p50_us)),
    )
}

/// Waits for every task, ticking the progress line each second meanwhile.
async fn join_showing_progress<T>(
    out: Out,
    handles: Vec<tokio::task::JoinHandle<T>>,
) -> Vec<std::result::Result<T, tokio::task::JoinError>> {
    let mut all = std::pin::pin!(futures::future::join_all(handles));
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    loop {
        tokio::select! {
            finished = &mut all => return finished,
            _ = ticker.tick() => out.tick(),
        }
    }
}

/// A client straight to the owning service at `url`, with a service token, never retrying.
fn direct_target(
    url: &str,
    token: &str,
    global: &Global,
    keyed: bool,
    accounts: Option<(AccountId, AccountId)>,
) -> Result<Arc<Target>> {
    let client = aex_client::Client::builder(url)
        .bearer_token(token.to_string())
        .max_retries(0)
        .timeout(Duration::from_secs(global.timeout_secs))
        .build()
        .map_err(|e| CliError::Usage(format!("{url}: {e}")))?;
    Ok(Arc::new(Target { client, keyed, accounts }))
}

/// Runs the scenario for `--seconds` with `--concurrency` tasks, spread over `targets` in turn.
async fn run_scenario(out: Out, args: &BenchArgs, targets: &[Arc<Target>], url: &str, run: &str) -> Result<Summary> {
    let scenario = args.scenario.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
    out.progress(&format!("running {scenario} through {url} for {} s with {} tasks", args.seconds, args.concurrency));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let handles: Vec<_> = targets
        .iter()
        .cycle()
        .take(args.concurrency as usize)
        .enumerate()
        .map(|(n, target)| tokio::spawn(task(target.clone(), args.scenario, deadline, format!("{run}-{n}"))))
        .collect();
    let finished = join_showing_progress(out, handles).await;
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
    Ok(summarize(latencies, errors, elapsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench_args(seconds: u64, concurrency: u32) -> BenchArgs {
        BenchArgs {
            seconds,
            concurrency,
            scenario: Scenario::Transfer,
            to: None,
            compare_direct: None,
            direct: Vec::new(),
            without_idempotency_key: false,
            service_token_secret_file: ".local/secrets/service_token_secret".into(),
            rounds: 3,
            gateway_pid: None,
            service_pid: None,
            prefill: 0,
        }
    }

    fn side(per_second: u64, p50_us: u64, cpu: Option<u64>) -> Side {
        let summary = Summary { requests_per_second: per_second, p50_us, p99_us: p50_us * 2, ..Summary::default() };
        Side { summary, cpu_us_per_request: cpu }
    }

    #[test]
    fn the_comparison_takes_medians_and_the_median_share_of_the_rounds() {
        let rounds = vec![
            Round { gateway: side(800, 3_000, Some(60)), direct: side(1_000, 2_000, Some(100)) },
            Round { gateway: side(500, 4_000, Some(70)), direct: side(1_000, 2_500, Some(90)) },
            Round { gateway: side(900, 2_900, Some(50)), direct: side(1_000, 2_100, Some(95)) },
        ];
        let c = Comparison::of(&rounds);
        assert_eq!((c.gateway_per_second, c.direct_per_second), (800, 1_000));
        assert_eq!((c.share_permille, c.share_min_permille, c.share_max_permille), (800, 500, 900));
        assert_eq!((c.gateway_p50_us, c.direct_p50_us), (3_000, 2_100));
        assert_eq!((c.gateway_cpu_us_per_request, c.service_cpu_us_per_request), (Some(60), Some(95)));
        let text = comparison_text("transfer", &bench_args(10, 64), &c);
        assert!(
            text.contains("share through the gateway: 80.0 % (rounds 50.0 % – 90.0 %); p50 added: 0.90 ms"),
            "{text}"
        );
        let without_cpu = Comparison::of(&[Round { gateway: side(1, 1, None), direct: side(1, 1, Some(5)) }]);
        assert_eq!(without_cpu.gateway_cpu_us_per_request, None);
    }

    #[test]
    fn cpu_time_is_read_from_proc_and_spread_over_the_requests() {
        assert!(cpu_ticks(std::process::id()).is_some(), "this process's own /proc entry");
        assert_eq!(cpu_us_per_request(Some(100), Some(150), 10_000), Some(50));
        assert_eq!(cpu_us_per_request(Some(100), None, 10_000), None);
        assert_eq!(cpu_us_per_request(Some(100), Some(150), 0), None);
    }

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
        let args = bench_args(2, 4);
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
