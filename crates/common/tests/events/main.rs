//! Outbox, relay and consumer behaviour against real Postgres and NATS JetStream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod consumer;
mod migrations;
mod relay;

use aex_common::events::outbox::{self, NewEvent};
use aex_common::events::{EventBus, NatsArgs};
use sqlx::PgPool;
use std::collections::HashSet;

const OUTBOX_MIGRATION: &str = include_str!("../../../../migrations/settlement/0001_outbox_inbox.sql");
const RECONCILE_MIGRATION: &str = include_str!("../../../../migrations/settlement/0006_outbox_verified.sql");

/// An isolated schema with the outbox and inbox tables, and an isolated NATS namespace.
pub struct Fixture {
    pub pool: PgPool,
    pub schema: String,
    pub bus: EventBus,
}

impl Fixture {
    pub async fn new() -> Self {
        Self::with_nats(&aex_testkit::nats_url()).await
    }

    pub async fn with_nats(url: &str) -> Self {
        aex_testkit::init();
        let schema = aex_testkit::unique_schema("events");
        let pool = aex_testkit::schema_pool(&schema).await;
        sqlx::raw_sql(OUTBOX_MIGRATION).execute(&pool).await.expect("outbox migration");
        sqlx::raw_sql(RECONCILE_MIGRATION).execute(&pool).await.expect("outbox reconciliation migration");
        let args = NatsArgs {
            nats_url: url.to_string(),
            nats_namespace: aex_testkit::unique_namespace(),
            nats_stream_replicas: 1,
        };
        let bus = EventBus::connect(&args, "aex-common-tests").await.expect("connect NATS");
        Self { pool, schema, bus }
    }

    /// Commits `count` events of `event_type`, each in its own transaction.
    pub async fn commit_events(&self, event_type: &str, count: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            let mut tx = self.pool.begin().await.unwrap();
            let data = serde_json::json!({ "n": n });
            let envelope = outbox::enqueue(&mut tx, "tests", NewEvent::new(event_type, &data)).await.unwrap();
            tx.commit().await.unwrap();
            ids.push(envelope.event_id);
        }
        ids
    }

    pub async fn unpublished(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Every message stored in a logical stream: (Nats-Msg-Id header, envelope event_id).
    pub async fn stream_messages(&self, logical_stream: &str) -> Vec<(String, String)> {
        let mut stream = self.bus.jetstream().get_stream(self.bus.stream_name(logical_stream)).await.unwrap();
        let state = stream.info().await.unwrap().state.clone();
        let mut out = Vec::new();
        if state.messages == 0 {
            return out;
        }
        for seq in state.first_sequence..=state.last_sequence {
            // A deleted message leaves a gap in the sequence.
            let Ok(message) = stream.get_raw_message(seq).await else { continue };
            let msg_id = message.headers.get("Nats-Msg-Id").map(|v| v.as_str().to_string()).unwrap_or_default();
            let envelope: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
            out.push((msg_id, envelope["event_id"].as_str().unwrap_or_default().to_string()));
        }
        out
    }
}

/// Asserts the stream holds exactly `expected` events, once each, each under its own id.
pub fn assert_exactly_once(messages: &[(String, String)], expected: &[String]) {
    for (msg_id, event_id) in messages {
        assert_eq!(msg_id, event_id, "Nats-Msg-Id must equal the event id");
    }
    let stored: Vec<&String> = messages.iter().map(|(_, e)| e).collect();
    let unique: HashSet<&String> = stored.iter().copied().collect();
    assert_eq!(unique.len(), stored.len(), "an event was stored twice");
    let expected: HashSet<&String> = expected.iter().collect();
    assert_eq!(unique, expected, "stream content differs from the outbox");
}
