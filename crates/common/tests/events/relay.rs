//! The relay publishes every committed row exactly once, under crashes, concurrency and outages.

use crate::{Fixture, assert_exactly_once};
use aex_common::events::relay::{OutboxRelay, PublishOutcome, Reconciled, RelayConfig};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn fast_config() -> RelayConfig {
    RelayConfig {
        batch_size: 64,
        claim_ttl: Duration::from_millis(500),
        poll_interval: Duration::from_millis(50),
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..RelayConfig::default()
    }
}

async fn wait_until_published(fx: &Fixture) {
    aex_testkit::eventually(Duration::from_secs(20), "every outbox row published", || async {
        (fx.unpublished().await == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn every_row_is_published_once_with_its_event_id_as_msg_id() {
    let fx = Fixture::new().await;
    fx.bus.ensure_streams().await.unwrap();
    let ids = fx.commit_events("work.submitted", 150).await;

    let relay = OutboxRelay::new(fx.pool.clone(), fx.bus.clone(), &fx.schema, fast_config());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(relay.run(shutdown.clone()));
    wait_until_published(&fx).await;

    let more = fx.commit_events("work.submitted", 10).await;
    wait_until_published(&fx).await;
    shutdown.cancel();
    task.await.unwrap();

    let all: Vec<String> = ids.into_iter().chain(more).collect();
    assert_exactly_once(&fx.stream_messages("WORK").await, &all);
    let (with_seq,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM outbox WHERE stream_seq IS NOT NULL").fetch_one(&fx.pool).await.unwrap();
    assert_eq!(with_seq, 160, "each published row records its stream sequence");
}

#[tokio::test]
async fn a_relay_dying_between_publish_and_mark_causes_no_duplicate() {
    let fx = Fixture::new().await;
    fx.bus.ensure_streams().await.unwrap();
    let ids = fx.commit_events("contract.completed", 20).await;

    // The first relay claims and publishes, then dies before marking anything.
    let doomed = OutboxRelay::new(fx.pool.clone(), fx.bus.clone(), &fx.schema, fast_config());
    let claim = doomed.claim().await.unwrap();
    assert_eq!(claim.rows.len(), 20);
    let outcome = doomed.publish(&claim).await;
    assert_eq!(outcome.acked.len(), 20, "{:?}", outcome.error);
    drop(doomed);
    assert_eq!(fx.unpublished().await, 20, "nothing was marked");

    // While the lease lives, nobody else takes the rows.
    let successor = OutboxRelay::new(fx.pool.clone(), fx.bus.clone(), &fx.schema, fast_config());
    assert!(successor.claim().await.unwrap().rows.is_empty(), "a live lease must be respected");

    // After it expires the successor re-publishes them; JetStream drops the duplicates.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let published = successor.drain().await.unwrap();
    assert_eq!(published, 20);
    assert_eq!(fx.unpublished().await, 0);
    assert_exactly_once(&fx.stream_messages("CONTRACT").await, &ids);
}

#[tokio::test]
async fn a_stale_relay_cannot_mark_rows_another_relay_took_over() {
    let fx = Fixture::new().await;
    fx.bus.ensure_streams().await.unwrap();
    fx.commit_events("work.cancelled", 5).await;

    let stale = OutboxRelay::new(fx.pool.clone(), fx.bus.clone(), &fx.schema, fast_config());
    let stale_claim = stale.claim().await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;

    let fresh = OutboxRelay::new(fx.pool.clone(), fx.bus.clone(), &fx.schema, fast_config());
    let fresh_claim = fresh.claim().await.unwrap();
    assert_eq!(fresh_claim.rows.len(), 5, "expired lease is taken over");

    let stale_outcome = PublishOutcome { acked: stale_claim.rows.iter().map(|r| (r.id, 1)).collect(), error: None };
    assert_eq!(stale.mark(&stale_claim, &stale_outcome).await.unwrap(), 0, "stale claimer is fenced");
    let outcome = fresh.publish(&fresh_claim).await;
    assert_eq!(fresh.mark(&fresh_claim, &outcome).await.unwrap(), 5);
    assert_eq!(fx.unpublished().await, 0);
}

#[tokio::test]
async fn two_relays_running_at_once_publish_each_row_once() {
    let fx = Fixture::new().await;
    fx.bus.ensure_streams().await.unwrap();
    let shutdown = CancellationToken::new();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let relay = OutboxRelay::new(fx.pool.clone(), fx.bus.clone(), &fx.schema, fast_config());
        tasks.push(tokio::spawn(relay.run(shutdown.clone())));
    }
    // Writers commit while both relays run.
    let mut writers = Vec::new();
    for _ in 0..4 {
        let pool = fx.pool.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..75 {
                let mut tx = pool.begin().await.unwrap();
                let data = serde_json::json!({ "n": n });
                let envelope = aex_common::events::outbox::enqueue(
                    &mut tx,
                    "tests",
                    aex_common::events::outbox::NewEvent::new("bid.submitted", &data),
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                ids.push(envelope.event_id);
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for writer in writers {
        ids.extend(writer.await.unwrap());
    }
    wait_until_published(&fx).await;
    shutdown.cancel();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(ids.len(), 300);
    assert_exactly_once(&fx.stream_messages("BID").await, &ids);
}

#[tokio::test]
async fn with_nats_stopped_rows_accumulate_and_drain_after_recovery() {
    let mut nats = aex_testkit::NatsServer::start();
    let fx = Fixture::with_nats(&nats.url()).await;
    fx.bus.ensure_streams().await.unwrap();
    let shutdown = CancellationToken::new();
    let relay = OutboxRelay::new(fx.pool.clone(), fx.bus.clone(), &fx.schema, fast_config());
    let task = tokio::spawn(relay.run(shutdown.clone()));

    let before = fx.commit_events("settlement.completed", 5).await;
    wait_until_published(&fx).await;

    nats.stop();
    // Requests keep committing while the broker is gone.
    let during = fx.commit_events("settlement.completed", 25).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fx.unpublished().await, 25, "rows accumulate while NATS is down");

    nats.restart();
    wait_until_published(&fx).await;
    shutdown.cancel();
    task.await.unwrap();

    let all: Vec<String> = before.into_iter().chain(during).collect();
    assert_exactly_once(&fx.stream_messages("SETTLEMENT").await, &all);
}

#[tokio::test]
async fn replicas_creating_the_streams_at_once_all_succeed() {
    for _ in 0..5 {
        let args = aex_common::events::NatsArgs {
            nats_url: aex_testkit::nats_url(),
            nats_namespace: aex_testkit::unique_namespace(),
            nats_stream_replicas: 1,
        };
        let mut buses = Vec::new();
        for n in 0..4 {
            buses.push(aex_common::events::EventBus::connect(&args, &format!("replica-{n}")).await.unwrap());
        }
        let racers: Vec<_> =
            buses.into_iter().map(|bus| tokio::spawn(async move { bus.ensure_streams().await })).collect();
        for racer in racers {
            racer.await.unwrap().expect("a concurrent stream creation must not fail");
        }
    }
}

#[tokio::test]
async fn a_changed_stream_setting_is_applied_to_the_existing_stream() {
    let fx = Fixture::new().await;
    fx.bus.ensure_streams().await.unwrap();
    let shorter = aex_common::events::StreamSpec {
        max_age: std::time::Duration::from_secs(3600),
        ..aex_common::events::STREAMS[0]
    };
    fx.bus.ensure_stream(&shorter).await.unwrap();
    let mut stream = fx.bus.jetstream().get_stream(fx.bus.stream_name("WORK")).await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.config.max_age, std::time::Duration::from_secs(3600));
    // The same settings again change nothing and succeed.
    fx.bus.ensure_stream(&shorter).await.unwrap();
}

#[tokio::test]
async fn a_message_missing_from_its_stream_is_published_again_and_the_others_verified_once() {
    let fx = Fixture::new().await;
    fx.bus.ensure_streams().await.unwrap();
    let ids = fx.commit_events("work.submitted", 5).await;
    let config = RelayConfig { reconcile_after: Duration::ZERO, ..fast_config() };
    let relay = OutboxRelay::new(fx.pool.clone(), fx.bus.clone(), &fx.schema, config);
    assert_eq!(relay.drain().await.unwrap(), 5);

    // The stream loses one message after its ack (a server's disk, an operator's purge).
    let lost_seq: i64 = sqlx::query_scalar("SELECT stream_seq FROM outbox WHERE event_id = $1")
        .bind(&ids[2])
        .fetch_one(&fx.pool)
        .await
        .unwrap();
    let stream = fx.bus.jetstream().get_stream(fx.bus.stream_name("WORK")).await.unwrap();
    assert!(stream.delete_message(u64::try_from(lost_seq).unwrap()).await.unwrap());

    assert_eq!(relay.reconcile().await.unwrap(), Reconciled { verified: 4, requeued: 1 });
    assert_eq!(fx.unpublished().await, 1, "the lost event is queued again");
    assert_eq!(relay.drain().await.unwrap(), 1, "and published again despite the duplicate window");
    assert_eq!(relay.reconcile().await.unwrap(), Reconciled { verified: 1, requeued: 0 });
    assert_eq!(relay.reconcile().await.unwrap(), Reconciled::default(), "each row is checked once");

    // The stream holds every event once again; the re-published copy carries the event's id
    // in its envelope and a fresh message id.
    let messages = fx.stream_messages("WORK").await;
    let mut events: Vec<&String> = messages.iter().map(|(_, event)| event).collect();
    events.sort();
    let mut expected: Vec<&String> = ids.iter().collect();
    expected.sort();
    assert_eq!(events, expected);
    assert!(messages.iter().any(|(msg_id, event)| *event == ids[2] && *msg_id == format!("{}.r1", ids[2])));
}

#[tokio::test]
async fn reconciliation_with_nats_unreachable_changes_nothing() {
    let mut nats = aex_testkit::NatsServer::start();
    let fx = Fixture::with_nats(&nats.url()).await;
    fx.bus.ensure_streams().await.unwrap();
    fx.commit_events("work.submitted", 3).await;
    let config = RelayConfig { reconcile_after: Duration::ZERO, ..fast_config() };
    let relay = OutboxRelay::new(fx.pool.clone(), fx.bus.clone(), &fx.schema, config);
    relay.drain().await.unwrap();
    nats.stop();
    assert!(relay.reconcile().await.is_err());
    let (unverified, unpublished): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE verified_at IS NULL), count(*) FILTER (WHERE published_at IS NULL) FROM outbox",
    )
    .fetch_one(&fx.pool)
    .await
    .unwrap();
    assert_eq!((unverified, unpublished), (3, 0), "an outage is not mistaken for a loss");
}
