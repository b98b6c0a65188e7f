//! The consumer runner: one effect per event, retries with backoff, dead letters, replay.

use crate::Fixture;
use aex_common::events::consumer::{ConsumerConfig, ConsumerRunner, EventHandler, HandlerError, ReceivedEvent};
use aex_common::events::{EventEnvelope, deadletter};
use aex_types::{EventId, Timestamp};
use async_nats::jetstream::message::PublishMessage;
use futures::future::BoxFuture;
use sqlx::PgConnection;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const SUBJECT: &str = "work.bid_window_closed";

/// Records one `effects` row per handled event; fails for payloads marked `poison` while
/// `poison_fails` is set, and permanently for payloads marked `malformed`.
struct RecordingHandler {
    poison_fails: AtomicBool,
}

impl EventHandler for RecordingHandler {
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a ReceivedEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let data = &event.envelope.data;
            if data["poison"] == true && self.poison_fails.load(Ordering::SeqCst) {
                return Err(HandlerError::Retry("boom: downstream unavailable".into()));
            }
            if data["malformed"] == true {
                return Err(HandlerError::Permanent("payload lacks work_id".into()));
            }
            sqlx::query("INSERT INTO effects (event_id) VALUES ($1)")
                .bind(&event.envelope.event_id)
                .execute(&mut *tx)
                .await?;
            Ok(())
        })
    }
}

async fn setup() -> (Fixture, Arc<RecordingHandler>, CancellationToken) {
    let fx = Fixture::new().await;
    sqlx::query("CREATE TABLE effects (id BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL, handled_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())")
        .execute(&fx.pool)
        .await
        .unwrap();
    fx.bus.ensure_streams().await.unwrap();
    let handler = Arc::new(RecordingHandler { poison_fails: AtomicBool::new(true) });
    let mut config = ConsumerConfig::new("tests-window-closed", "WORK", SUBJECT);
    config.retry_delays = vec![Duration::from_millis(50)];
    let runner = ConsumerRunner::new(fx.pool.clone(), fx.bus.clone(), config, handler.clone());
    runner.ensure_consumer().await.unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(runner.run(shutdown.clone()));
    (fx, handler, shutdown)
}

fn envelope(data: serde_json::Value) -> EventEnvelope<serde_json::Value> {
    EventEnvelope {
        event_id: EventId::new().to_string(),
        event_type: SUBJECT.into(),
        schema_version: 1,
        occurred_at: Timestamp::now(),
        source: "tests".into(),
        tenant_id: None,
        traceparent: None,
        data,
    }
}

/// Publishes `envelope` under its own message id `msg_id` (distinct ids defeat JetStream's
/// duplicate window, as a redelivery or a re-publish after the window would).
async fn publish(fx: &Fixture, envelope: &EventEnvelope<serde_json::Value>, msg_id: &str) {
    let body = serde_json::to_vec(envelope).unwrap();
    fx.bus
        .jetstream()
        .send_publish(fx.bus.subject(SUBJECT), PublishMessage::build().payload(body.into()).message_id(msg_id))
        .await
        .unwrap()
        .await
        .unwrap();
}

async fn effects_of(fx: &Fixture, event_id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM effects WHERE event_id = $1")
        .bind(event_id)
        .fetch_one(&fx.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_redelivered_event_has_exactly_one_effect() {
    let (fx, _handler, shutdown) = setup().await;
    let event = envelope(serde_json::json!({ "work_id": "work_1" }));
    for attempt in 0..5 {
        publish(&fx, &event, &format!("{}-{attempt}", event.event_id)).await;
    }
    let marker = envelope(serde_json::json!({ "work_id": "work_2" }));
    publish(&fx, &marker, &marker.event_id).await;
    // The marker is behind every copy; once it is handled, all copies have been seen.
    aex_testkit::eventually(Duration::from_secs(10), "marker handled", || async {
        (effects_of(&fx, &marker.event_id).await == 1).then_some(())
    })
    .await;
    assert_eq!(effects_of(&fx, &event.event_id).await, 1, "five deliveries, one effect");
    let inbox: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_id = $1")
        .bind(&event.event_id)
        .fetch_one(&fx.pool)
        .await
        .unwrap();
    assert_eq!(inbox, 1);
    shutdown.cancel();
}

#[tokio::test]
async fn a_message_that_always_fails_is_dead_lettered_after_five_deliveries_without_blocking_others() {
    let (fx, _handler, shutdown) = setup().await;
    let poison = envelope(serde_json::json!({ "work_id": "work_bad", "poison": true }));
    publish(&fx, &poison, &poison.event_id).await;
    let mut good = Vec::new();
    for n in 0..3 {
        let event = envelope(serde_json::json!({ "work_id": format!("work_{n}") }));
        publish(&fx, &event, &event.event_id).await;
        good.push(event);
    }

    let letters = aex_testkit::eventually(Duration::from_secs(15), "dead letter stored", || async {
        let letters = deadletter::list(&fx.bus, 0, 10).await.ok()?;
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    assert_eq!(letters.len(), 1);
    let letter = &letters[0].letter;
    assert_eq!(letter.attempts, 5);
    assert_eq!(letter.original_subject, SUBJECT);
    assert_eq!(letter.consumer, "tests-window-closed");
    assert_eq!(letter.stream, "WORK");
    assert_eq!(letter.event_id.as_deref(), Some(poison.event_id.as_str()));
    assert!(letter.error.contains("boom"), "{}", letter.error);
    assert_eq!(letter.payload["data"]["poison"], true);
    assert_eq!(effects_of(&fx, &poison.event_id).await, 0);

    // The messages behind the poison were handled while it was still being retried.
    for event in &good {
        assert_eq!(effects_of(&fx, &event.event_id).await, 1);
        let handled_at: time::OffsetDateTime = sqlx::query_scalar("SELECT handled_at FROM effects WHERE event_id = $1")
            .bind(&event.event_id)
            .fetch_one(&fx.pool)
            .await
            .unwrap();
        assert!(handled_at < letter.failed_at.inner(), "a later message waited for the poison one");
    }
    shutdown.cancel();
}

#[tokio::test]
async fn a_permanent_failure_is_dead_lettered_at_once_and_can_be_replayed() {
    let (fx, handler, shutdown) = setup().await;
    let poison = envelope(serde_json::json!({ "work_id": "work_x", "poison": true }));
    let malformed = envelope(serde_json::json!({ "malformed": true }));
    publish(&fx, &malformed, &malformed.event_id).await;
    publish(&fx, &poison, &poison.event_id).await;

    let letters = aex_testkit::eventually(Duration::from_secs(15), "two dead letters", || async {
        let letters = deadletter::list(&fx.bus, 0, 10).await.ok()?;
        (letters.len() == 2).then_some(letters)
    })
    .await;
    let permanent = letters.iter().find(|l| l.letter.event_id.as_deref() == Some(&malformed.event_id)).unwrap();
    assert_eq!(permanent.letter.attempts, 1, "permanent errors are not retried");

    // The operator fixes the cause and replays the poison message: it now takes effect, once.
    handler.poison_fails.store(false, Ordering::SeqCst);
    let retried = letters.iter().find(|l| l.letter.event_id.as_deref() == Some(&poison.event_id)).unwrap();
    deadletter::replay(&fx.bus, retried.sequence).await.unwrap();
    aex_testkit::eventually(Duration::from_secs(10), "replayed event handled", || async {
        (effects_of(&fx, &poison.event_id).await == 1).then_some(())
    })
    .await;
    deadletter::replay(&fx.bus, retried.sequence).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(effects_of(&fx, &poison.event_id).await, 1, "a second replay has no second effect");
    shutdown.cancel();
}
