//! End to end: from a bid window's close to `bids.evaluated`, for a work with 100 bids, through
//! the real work-publisher (closer, outbox relay, bid API), NATS, the real evaluator and the real
//! certauth. Prints the latency of several runs; needs the local stack (`deploy/local/stack
//! bench`). Figures, not a pass/fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_arithmetic)]

#[path = "../tests/support/real.rs"]
mod real;

use std::time::{Duration, Instant};

const BIDS: usize = 100;
const RUNS: usize = 5;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let r = real::Real::start().await;
    let mut providers = Vec::with_capacity(BIDS);
    for _ in 0..BIDS {
        providers.push(r.provider().await);
    }
    println!("bid-evaluator: window close -> bids.evaluated, {BIDS} bids per work, real services");
    let mut closes = Vec::new();
    for run in 0..RUNS {
        let (consumer, work_id) = r.work(None).await;
        for (i, (tenant, _)) in providers.iter().enumerate() {
            r.bid(tenant, &work_id, &format!("{}.00", 20 + (i % 50))).await;
        }
        let started = Instant::now();
        r.close_window(&work_id).await;
        let evaluation = r.evaluation(&consumer, &work_id).await;
        let observed = started.elapsed();
        // The same span by the services' own clocks: the close committed -> `bids.evaluated` committed.
        let (closed_at, evaluated_at): (time::OffsetDateTime, time::OffsetDateTime) = (
            sqlx::query_scalar("SELECT closed_at FROM work WHERE id = $1")
                .bind(&work_id)
                .fetch_one(&r.publisher_pool)
                .await
                .unwrap(),
            sqlx::query_scalar(
                "SELECT min(created_at) FROM outbox WHERE subject = 'bids.evaluated'
                   AND convert_from(payload, 'UTF8')::jsonb -> 'data' ->> 'work_id' = $1",
            )
            .bind(&work_id)
            .fetch_one(&r.evaluator_pool)
            .await
            .unwrap(),
        );
        let server = Duration::from_secs_f64((evaluated_at - closed_at).as_seconds_f64().max(0.0));
        assert_eq!(evaluation["total_bids"], BIDS as i64, "{evaluation}");
        println!(
            "  run {}: close -> bids.evaluated {:>7.1} ms   deadline moved -> owner sees it {:>7.1} ms",
            run + 1,
            server.as_secs_f64() * 1e3,
            observed.as_secs_f64() * 1e3
        );
        closes.push(server);
    }
    closes.sort();
    println!(
        "  median close -> evaluated: {:.1} ms (min {:.1} ms, max {:.1} ms)",
        closes[RUNS / 2].as_secs_f64() * 1e3,
        closes[0].as_secs_f64() * 1e3,
        closes[RUNS - 1].as_secs_f64() * 1e3
    );
    r.stop().await;
}
