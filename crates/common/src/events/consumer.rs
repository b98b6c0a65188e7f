//! The consumer runner: a durable JetStream pull consumer whose handler runs inside a Postgres
//! transaction that also records the event id in the `inbox` table.
//!
//! The inbox row and the handler's effect commit together, then the message is acknowledged
//! (double ack). A redelivery — after a crash between commit and ack, or a duplicate publish —
//! finds its inbox row and is acknowledged with no second effect. A failing message is retried
//! with backoff (negative ack with delay) up to `max_deliver` deliveries, then copied to
//! `deadletter.<subject>` and acknowledged, so it never blocks the messages behind it.

use super::deadletter::{self, DeadLetter};
use super::{EventBus, EventEnvelope, EventError};
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use futures::StreamExt;
use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What a handler receives: the decoded envelope and where it came from.
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    /// The logical subject, e.g. `work.bid_window_closed`.
    pub subject: String,
    pub envelope: EventEnvelope<serde_json::Value>,
    /// Delivery attempt, starting at 1.
    pub delivered: i64,
    pub stream_sequence: u64,
}

impl ReceivedEvent {
    /// The payload decoded into the handler's own type.
    pub fn data<T: serde::de::DeserializeOwned>(&self) -> Result<T, HandlerError> {
        serde_json::from_value(self.envelope.data.clone())
            .map_err(|e| HandlerError::Permanent(format!("undecodable {} payload: {e}", self.subject)))
    }
}

/// How a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// May succeed later (a dependency is down): redelivered with backoff.
    #[error("retryable: {0}")]
    Retry(String),
    /// Will never succeed (malformed payload): dead-lettered at once.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        HandlerError::Retry(format!("database: {error}"))
    }
}

/// A service's reaction to one kind of event. Its effect must go through `tx`.
pub trait EventHandler: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a ReceivedEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;
}

/// Settings of one durable consumer.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Durable name, unique per service and purpose, e.g. `bid-evaluator-window-closed`.
    pub name: String,
    /// Logical stream, e.g. `WORK`.
    pub stream: &'static str,
    /// Logical filter subject, e.g. `work.bid_window_closed` or `work.>`.
    pub filter_subject: String,
    pub max_deliver: i64,
    pub ack_wait: Duration,
    /// Delay before the n-th redelivery of a failed message (the last entry repeats).
    pub retry_delays: Vec<Duration>,
    pub fetch_batch: usize,
}

impl ConsumerConfig {
    pub fn new(name: impl Into<String>, stream: &'static str, filter_subject: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            stream,
            filter_subject: filter_subject.into(),
            max_deliver: 5,
            ack_wait: Duration::from_secs(30),
            retry_delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(15),
                Duration::from_secs(30),
            ],
            fetch_batch: 64,
        }
    }

    fn retry_delay(&self, delivered: i64) -> Duration {
        let index = usize::try_from(delivered.saturating_sub(1)).unwrap_or(0);
        self.retry_delays.get(index).or(self.retry_delays.last()).copied().unwrap_or(Duration::from_secs(1))
    }
}

/// Runs one durable consumer against one handler.
pub struct ConsumerRunner<H> {
    pool: PgPool,
    bus: EventBus,
    config: ConsumerConfig,
    handler: Arc<H>,
}

/// The result of handling one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Handled,
    Duplicate,
    Retrying,
    DeadLettered,
}

impl<H: EventHandler> ConsumerRunner<H> {
    pub fn new(pool: PgPool, bus: EventBus, config: ConsumerConfig, handler: Arc<H>) -> Self {
        Self { pool, bus, config, handler }
    }

    /// Creates the durable consumer if it does not exist yet.
    pub async fn ensure_consumer(&self) -> Result<PullConsumer, EventError> {
        let stream_name = self.bus.stream_name(self.config.stream);
        let spec =
            super::STREAMS.iter().find(|s| s.name == self.config.stream).ok_or_else(|| EventError::Consumer {
                consumer: self.config.name.clone(),
                message: format!("unknown stream {}", self.config.stream),
            })?;
        self.bus.ensure_stream(spec).await?;
        let stream = self
            .bus
            .jetstream()
            .get_stream(&stream_name)
            .await
            .map_err(|e| EventError::Stream { stream: stream_name.clone(), message: e.to_string() })?;
        // Retry delays are applied with a delayed negative ack per failure rather than the
        // consumer's server-side backoff list: nats-server 2.9 lets that list override the
        // delay of a NAK, and it would replace the 30 s ack wait with its first entry.
        let config = pull::Config {
            durable_name: Some(self.config.name.clone()),
            filter_subject: self.bus.subject(&self.config.filter_subject),
            ack_policy: AckPolicy::Explicit,
            deliver_policy: DeliverPolicy::All,
            ack_wait: self.config.ack_wait,
            max_deliver: self.config.max_deliver,
            max_ack_pending: 1000,
            ..Default::default()
        };
        stream
            .get_or_create_consumer(&self.config.name, config)
            .await
            .map_err(|e| EventError::Consumer { consumer: self.config.name.clone(), message: e.to_string() })
    }

    /// Consumes until `shutdown`. Recreates the consumer and its message stream after errors.
    pub async fn run(self, shutdown: CancellationToken) {
        let task = format!("consumer:{}", self.config.name);
        tracing::info!(task = %task, "consumer started");
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let result = tokio::select! {
                _ = shutdown.cancelled() => break,
                result = self.consume_until_error(&shutdown) => result,
            };
            if let Err(error) = result {
                failures = failures.saturating_add(1);
                tracing::warn!(task = %task, %error, failures, "consumer interrupted; recreating");
                let delay = Duration::from_millis(100u64.saturating_mul(2u64.saturating_pow(failures.min(6))));
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {},
                }
            } else {
                failures = 0;
            }
        }
        tracing::info!(task = %task, "consumer stopped");
    }

    async fn consume_until_error(&self, shutdown: &CancellationToken) -> Result<(), EventError> {
        let consumer = self.ensure_consumer().await?;
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(self.config.fetch_batch)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .map_err(|e| EventError::Consumer { consumer: self.config.name.clone(), message: e.to_string() })?;
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                next = messages.next() => next,
            };
            match next {
                Some(Ok(message)) => {
                    if let Err(error) = self.process(&message).await {
                        // Not acknowledged: the server redelivers after the ack wait.
                        tracing::warn!(consumer = %self.config.name, %error, "message left for redelivery");
                    }
                }
                Some(Err(error)) => {
                    return Err(EventError::Consumer {
                        consumer: self.config.name.clone(),
                        message: error.to_string(),
                    });
                }
                None => {
                    return Err(EventError::Consumer {
                        consumer: self.config.name.clone(),
                        message: "message stream ended".into(),
                    });
                }
            }
        }
    }

    /// Handles one message: inbox check, handler and inbox row in one transaction, then ack;
    /// or negative ack with delay; or dead letter after the last attempt.
    pub async fn process(&self, message: &async_nats::jetstream::Message) -> Result<Disposition, EventError> {
        let info = message.info().map_err(|e| EventError::Consumer {
            consumer: self.config.name.clone(),
            message: format!("message without JetStream metadata: {e}"),
        })?;
        let delivered = info.delivered;
        let stream_sequence = info.stream_sequence;
        metrics::gauge!("aex_consumer_pending", "consumer" => self.config.name.clone()).set(info.pending as f64);
        let subject = self.bus.logical_subject(message.subject.as_str()).to_string();

        let envelope: EventEnvelope<serde_json::Value> = match serde_json::from_slice(&message.payload) {
            Ok(envelope) => envelope,
            Err(error) => {
                let failure = format!("undecodable envelope: {error}");
                return self.dead_letter(message, &subject, None, delivered, stream_sequence, failure).await;
            }
        };
        let event = ReceivedEvent { subject: subject.clone(), envelope, delivered, stream_sequence };

        match self.apply(&event).await {
            Ok(disposition) => {
                self.ack(message, AckKind::Ack).await?;
                let outcome = if disposition == Disposition::Duplicate { "duplicate" } else { "handled" };
                metrics::counter!("aex_consumer_messages_total", "consumer" => self.config.name.clone(), "outcome" => outcome)
                    .increment(1);
                Ok(disposition)
            }
            Err(HandlerError::Retry(error)) if delivered < self.config.max_deliver => {
                let delay = self.config.retry_delay(delivered);
                tracing::warn!(consumer = %self.config.name, event_id = %event.envelope.event_id, delivered, %error, "handler failed; will retry");
                self.ack(message, AckKind::Nak(Some(delay))).await?;
                metrics::counter!("aex_consumer_messages_total", "consumer" => self.config.name.clone(), "outcome" => "retry")
                    .increment(1);
                Ok(Disposition::Retrying)
            }
            Err(error) => {
                let event_id = Some(event.envelope.event_id.as_str());
                self.dead_letter(message, &subject, event_id, delivered, stream_sequence, error.to_string()).await
            }
        }
    }

    async fn apply(&self, event: &ReceivedEvent) -> Result<Disposition, HandlerError> {
        let mut tx = self.pool.begin().await?;
        let fresh = sqlx::query(
            "INSERT INTO inbox (consumer, event_id, subject) VALUES ($1, $2, $3)
             ON CONFLICT (consumer, event_id) DO NOTHING",
        )
        .bind(&self.config.name)
        .bind(&event.envelope.event_id)
        .bind(&event.subject)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            return Ok(Disposition::Duplicate);
        }
        self.handler.handle(&mut tx, event).await?;
        match tx.commit().await {
            Ok(()) => Ok(Disposition::Handled),
            // A concurrent delivery of the same event committed first: its effect stands.
            Err(error) if crate::db::constraint_violation(&error).is_some_and(|(c, _)| c == "inbox_pkey") => {
                Ok(Disposition::Duplicate)
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn dead_letter(
        &self,
        message: &async_nats::jetstream::Message,
        subject: &str,
        event_id: Option<&str>,
        attempts: i64,
        stream_sequence: u64,
        error: String,
    ) -> Result<Disposition, EventError> {
        let letter = DeadLetter::new(
            &self.config.name,
            subject,
            self.config.stream,
            stream_sequence,
            event_id,
            &message.payload,
            error,
            attempts,
        );
        deadletter::publish(&self.bus, &letter).await?;
        tracing::error!(consumer = %self.config.name, subject, attempts, error = %letter.error, "message dead-lettered");
        metrics::counter!("aex_deadletters_total", "consumer" => self.config.name.clone()).increment(1);
        self.ack(message, AckKind::Term).await?;
        Ok(Disposition::DeadLettered)
    }

    async fn ack(&self, message: &async_nats::jetstream::Message, kind: AckKind) -> Result<(), EventError> {
        message.double_ack_with(kind).await.map_err(|e| EventError::Consumer {
            consumer: self.config.name.clone(),
            message: format!("ack failed: {e}"),
        })
    }
}
