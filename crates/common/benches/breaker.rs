//! Cost of failing fast: the latency of `HttpClient::call` while a downstream's breaker is open
//! (the full call path, no network), and the raw cost of `CircuitBreaker::try_acquire`.
//! A plain `main` that prints figures: `cargo bench -p aex-common --bench breaker`.

use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aex_common::http_client::{
    BreakerSettings, BreakerState, CallError, CircuitBreaker, Downstream, HttpClient, HttpClientConfig, RequestSpec,
};

const CALLS: usize = 100_000;
const ACQUIRES: u32 = 10_000_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _already_installed = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;

    println!("fast-fail latency of HttpClient::call with the breaker open ({CALLS} calls)");
    runtime.block_on(fast_fail("no metrics recorder"))?;
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || runtime.block_on(fast_fail("prometheus recorder")))?;

    println!("raw breaker cost ({ACQUIRES} iterations each)");
    raw_breaker_costs();
    Ok(())
}

/// Opens the breaker of a downstream on a closed port, then times refused calls one by one.
async fn fast_fail(label: &str) -> Result<(), Box<dyn std::error::Error>> {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = closed.local_addr()?;
    drop(closed);
    let config = HttpClientConfig {
        max_retries: 0,
        breaker_failure_threshold: 1,
        breaker_open_duration: Duration::from_secs(3600),
        ..HttpClientConfig::default()
    };
    let client = HttpClient::new(&config)?;
    let downstream = Downstream::new("bench", format!("http://{address}/api").parse()?);
    let _refused = client.call(&downstream, RequestSpec::get("/v1/things")).await;
    if client.breaker_state("bench") != Some(BreakerState::Open) {
        return Err("the breaker did not open".into());
    }

    for _ in 0..1_000 {
        let _warm_up = client.call(&downstream, RequestSpec::get("/v1/things")).await;
    }
    let mut nanos = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        let result = client.call(&downstream, black_box(RequestSpec::get("/v1/things"))).await;
        nanos.push(started.elapsed().as_nanos());
        if !matches!(result, Err(CallError::CircuitOpen { .. })) {
            return Err("a call went through an open breaker".into());
        }
    }
    nanos.sort_unstable();
    let mean = nanos.iter().sum::<u128>() / nanos.len() as u128;
    let percentile = |p: usize| nanos[(nanos.len() * p / 100).min(nanos.len() - 1)];
    println!(
        "  {label:<20} p50 {:>7} µs   p99 {:>7} µs   mean {:>7} µs   max {:>8} µs",
        micros(percentile(50)),
        micros(percentile(99)),
        micros(mean),
        micros(nanos[nanos.len() - 1]),
    );
    Ok(())
}

fn raw_breaker_costs() {
    let now = Instant::now();
    let settings = BreakerSettings {
        failure_threshold: 1,
        open_duration: Duration::from_secs(3600),
        ..BreakerSettings::default()
    };

    let mut open = CircuitBreaker::new(settings.clone());
    let permit = open.try_acquire(now).ok();
    if let Some(permit) = permit {
        open.record_failure(permit, now);
    }
    let refused = time_per_iteration(|| {
        let _ = black_box(black_box(&mut open).try_acquire(black_box(now)));
    });
    println!("  try_acquire, open (refused)                  {refused:>6} ns");

    let shared = Mutex::new(open);
    let locked = time_per_iteration(|| {
        let mut breaker = shared.lock().unwrap_or_else(|e| e.into_inner());
        let _ = black_box(breaker.try_acquire(black_box(now)));
    });
    println!("  lock + try_acquire, open (refused)           {locked:>6} ns");

    let mut closed = CircuitBreaker::new(settings);
    let admitted = time_per_iteration(|| {
        let breaker = black_box(&mut closed);
        if let Ok(permit) = breaker.try_acquire(black_box(now)) {
            black_box(breaker.record_success(permit));
        }
    });
    println!("  try_acquire + record_success, closed         {admitted:>6} ns");
}

/// Mean time of `step`, in nanoseconds with one decimal.
fn time_per_iteration(mut step: impl FnMut()) -> String {
    let started = Instant::now();
    for _ in 0..ACQUIRES {
        step();
    }
    let tenths = started.elapsed().as_nanos() * 10 / u128::from(ACQUIRES);
    format!("{}.{}", tenths / 10, tenths % 10)
}

fn micros(nanos: u128) -> String {
    format!("{}.{:02}", nanos / 1_000, nanos % 1_000 / 10)
}
