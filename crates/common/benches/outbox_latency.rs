//! Outbox commit → consumer handler latency, through real Postgres (LISTEN/NOTIFY relay) and
//! NATS JetStream (durable pull consumer). Prints p50/p99; targets p50 < 10 ms, p99 < 100 ms.
//!
//! Run with `deploy/local/stack bench` (or `cargo bench -p aex-common --bench outbox_latency`
//! after `eval "$(deploy/local/stack env)"`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_arithmetic)]

use aex_common::events::consumer::{ConsumerConfig, ConsumerRunner, EventHandler, HandlerError, ReceivedEvent};
use aex_common::events::outbox::{self, NewEvent};
use aex_common::events::relay::{OutboxRelay, RelayConfig};
use aex_common::events::{EventBus, NatsArgs};
use futures::future::BoxFuture;
use sqlx::PgConnection;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const EVENTS: usize = 1000;
const PACING: Duration = Duration::from_millis(3);
const MIGRATION: &str = include_str!("../../../migrations/settlement/0001_outbox_inbox.sql");

struct Stopwatch(mpsc::UnboundedSender<(String, Instant)>);

impl EventHandler for Stopwatch {
    fn handle<'a>(
        &'a self,
        _tx: &'a mut PgConnection,
        event: &'a ReceivedEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        let _ = self.0.send((event.envelope.event_id.clone(), Instant::now()));
        Box::pin(async { Ok(()) })
    }
}

#[tokio::main]
async fn main() {
    aex_testkit::init();
    let schema = aex_testkit::unique_schema("bench");
    let pool = aex_testkit::schema_pool(&schema).await;
    sqlx::raw_sql(MIGRATION).execute(&pool).await.unwrap();
    let args = NatsArgs {
        nats_url: aex_testkit::nats_url(),
        nats_namespace: aex_testkit::unique_namespace(),
        nats_stream_replicas: 1,
    };
    let bus = EventBus::connect(&args, "outbox-latency-bench").await.unwrap();
    bus.ensure_streams().await.unwrap();

    let shutdown = CancellationToken::new();
    let relay = OutboxRelay::new(pool.clone(), bus.clone(), &schema, RelayConfig::default());
    tokio::spawn(relay.run(shutdown.clone()));
    let (sender, mut received) = mpsc::unbounded_channel();
    let runner = ConsumerRunner::new(
        pool.clone(),
        bus.clone(),
        ConsumerConfig::new("bench-latency", "SETTLEMENT", "settlement.>"),
        Arc::new(Stopwatch(sender)),
    );
    runner.ensure_consumer().await.unwrap();
    tokio::spawn(runner.run(shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut committed: HashMap<String, Instant> = HashMap::with_capacity(EVENTS);
    let mut arrived: HashMap<String, Instant> = HashMap::with_capacity(EVENTS);
    let started = Instant::now();
    for n in 0..EVENTS {
        let mut tx = pool.begin().await.unwrap();
        let data = serde_json::json!({ "n": n });
        let envelope = outbox::enqueue(&mut tx, "bench", NewEvent::new("settlement.completed", &data)).await.unwrap();
        tx.commit().await.unwrap();
        committed.insert(envelope.event_id, Instant::now());
        while let Ok((id, at)) = received.try_recv() {
            arrived.insert(id, at);
        }
        tokio::time::sleep(PACING).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while arrived.len() < EVENTS && Instant::now() < deadline {
        if let Ok(Some((id, at))) = tokio::time::timeout(Duration::from_secs(1), received.recv()).await {
            arrived.insert(id, at);
        }
    }
    shutdown.cancel();

    let mut latencies: Vec<Duration> = committed
        .iter()
        .filter_map(|(id, at)| arrived.get(id).map(|seen| seen.saturating_duration_since(*at)))
        .collect();
    latencies.sort();
    let pick = |q: usize| latencies[(latencies.len() * q / 100).min(latencies.len() - 1)];
    println!(
        "outbox commit -> consumer handler latency ({} events, one every {:?}, {:.1} s)",
        EVENTS,
        PACING,
        started.elapsed().as_secs_f64()
    );
    println!("  delivered  {}/{}", latencies.len(), EVENTS);
    println!("  p50        {:>8.2} ms   (target < 10 ms)", pick(50).as_secs_f64() * 1e3);
    println!("  p90        {:>8.2} ms", pick(90).as_secs_f64() * 1e3);
    println!("  p99        {:>8.2} ms   (target < 100 ms)", pick(99).as_secs_f64() * 1e3);
    println!("  max        {:>8.2} ms", latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3);
}
