//! Events: JetStream streams, the transactional outbox and its relay, and the consumer runner
//! with its inbox and dead letters.
//!
//! A state change and its event are written in one Postgres transaction ([`outbox::enqueue`]);
//! the [`relay::OutboxRelay`] publishes committed rows with `Nats-Msg-Id = event_id`; a
//! [`consumer::ConsumerRunner`] hands each message to a handler inside a transaction that also
//! records the event id in the `inbox` table, so a redelivery has no second effect.

pub mod consumer;
pub mod deadletter;
mod envelope;
pub mod outbox;
pub mod relay;

pub use envelope::EventEnvelope;

use async_nats::jetstream::{self, stream};
use futures::future::BoxFuture;
use std::time::Duration;

/// Configuration fragment for services that publish or consume events.
#[derive(Debug, Clone, clap::Args)]
pub struct NatsArgs {
    /// NATS server URL.
    #[arg(long = "nats-url", env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// Prefix for stream and subject names; empty in production, unique per test run.
    #[arg(long = "nats-namespace", env = "AEX_NATS_NAMESPACE", default_value = "")]
    pub nats_namespace: String,
    /// JetStream replicas per stream (1 locally, 3 in production).
    #[arg(long = "nats-stream-replicas", env = "AEX_NATS_STREAM_REPLICAS", default_value_t = 1)]
    pub nats_stream_replicas: usize,
}

/// One JetStream stream of the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSpec {
    pub name: &'static str,
    pub subjects: &'static [&'static str],
    pub max_age: Duration,
}

const DAY: u64 = 24 * 60 * 60;

/// The seven streams of the platform (ARCHITECTURE.md §5).
pub const STREAMS: [StreamSpec; 7] = [
    StreamSpec { name: "WORK", subjects: &["work.>"], max_age: Duration::from_secs(30 * DAY) },
    StreamSpec { name: "BID", subjects: &["bid.>", "bids.>"], max_age: Duration::from_secs(30 * DAY) },
    StreamSpec { name: "CONTRACT", subjects: &["contract.>"], max_age: Duration::from_secs(90 * DAY) },
    StreamSpec { name: "SETTLEMENT", subjects: &["settlement.>"], max_age: Duration::from_secs(90 * DAY) },
    StreamSpec { name: "TRUST", subjects: &["trust.>", "reputation.>"], max_age: Duration::from_secs(90 * DAY) },
    StreamSpec { name: "CERTIFICATE", subjects: &["certificate.>", "crl.>"], max_age: Duration::from_secs(365 * DAY) },
    StreamSpec { name: "DEADLETTER", subjects: &["deadletter.>"], max_age: Duration::from_secs(90 * DAY) },
];

/// Window inside which JetStream drops a message whose `Nats-Msg-Id` it has already stored.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Errors of the event transport.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("invalid NATS namespace {0:?}: lower-case letters, digits and '_' only")]
    InvalidNamespace(String),
    #[error("cannot connect to NATS at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("stream {stream}: {message}")]
    Stream { stream: String, message: String },
    #[error("publish to {subject}: {message}")]
    Publish { subject: String, message: String },
    #[error("consumer {consumer}: {message}")]
    Consumer { consumer: String, message: String },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("serialization: {0}")]
    Serialization(#[from] serde_json::Error),
}

/// A JetStream connection with the namespace that prefixes every stream and subject name.
#[derive(Clone)]
pub struct EventBus {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    namespace: String,
    replicas: usize,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus").field("namespace", &self.namespace).finish_non_exhaustive()
    }
}

impl EventBus {
    /// Connects in the background: a service starts and serves while NATS is down, and its
    /// outbox drains once NATS is reachable.
    pub async fn connect(args: &NatsArgs, client_name: &str) -> Result<Self, EventError> {
        if !is_valid_namespace(&args.nats_namespace) {
            return Err(EventError::InvalidNamespace(args.nats_namespace.clone()));
        }
        let client = async_nats::ConnectOptions::new()
            .name(client_name)
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .connect(args.nats_url.as_str())
            .await
            .map_err(|e| EventError::Connect { url: args.nats_url.clone(), message: e.to_string() })?;
        let jetstream = jetstream::ContextBuilder::new().timeout(Duration::from_secs(5)).build(client.clone());
        Ok(Self {
            client,
            jetstream,
            namespace: args.nats_namespace.clone(),
            replicas: args.nats_stream_replicas.max(1),
        })
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The wire subject of a logical subject such as `work.submitted`.
    pub fn subject(&self, logical: &str) -> String {
        if self.namespace.is_empty() { logical.to_string() } else { format!("{}.{logical}", self.namespace) }
    }

    /// The logical subject of a wire subject (inverse of [`EventBus::subject`]).
    pub fn logical_subject<'a>(&self, wire: &'a str) -> &'a str {
        if self.namespace.is_empty() {
            return wire;
        }
        wire.strip_prefix(self.namespace.as_str()).and_then(|s| s.strip_prefix('.')).unwrap_or(wire)
    }

    /// The JetStream name of a logical stream such as `WORK`.
    pub fn stream_name(&self, logical: &str) -> String {
        if self.namespace.is_empty() {
            logical.to_string()
        } else {
            format!("{}_{logical}", self.namespace.to_ascii_uppercase())
        }
    }

    /// Creates or updates the seven platform streams.
    pub async fn ensure_streams(&self) -> Result<(), EventError> {
        for spec in STREAMS {
            self.ensure_stream(&spec).await?;
        }
        Ok(())
    }

    pub async fn ensure_stream(&self, spec: &StreamSpec) -> Result<(), EventError> {
        let name = self.stream_name(spec.name);
        let config = stream::Config {
            name: name.clone(),
            subjects: spec.subjects.iter().map(|s| self.subject(s)).collect(),
            max_age: spec.max_age,
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            num_replicas: self.replicas,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        };
        // Every start of every replica passes here, so an existing stream with the settings we
        // want is left alone: only a missing stream is created and only a changed one updated
        // (stream updates are rare operations; Debian's nats-server 2.9 has crashed on them).
        // Replicas starting together race to create a new stream; the loser's create is
        // refused (overlapping subjects) and its next attempt finds the stream.
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let result = match self.jetstream.get_stream(&name).await {
                Ok(existing) if same_settings(&existing.cached_info().config, &config) => return Ok(()),
                Ok(_) => self.jetstream.update_stream(config.clone()).await.map(|_| ()).map_err(|e| e.to_string()),
                Err(_) => self.jetstream.create_stream(config.clone()).await.map(|_| ()).map_err(|e| e.to_string()),
            };
            match result {
                Ok(()) => return Ok(()),
                Err(error) if attempt < 4 => {
                    tracing::debug!(stream = %name, %error, attempt, "stream create raced; retrying");
                    tokio::time::sleep(Duration::from_millis(25 * u64::from(attempt))).await;
                }
                Err(message) => return Err(EventError::Stream { stream: name, message }),
            }
        }
    }

    /// The stream spec whose subjects cover `logical_subject`, if any.
    pub fn stream_for(logical_subject: &str) -> Option<&'static StreamSpec> {
        STREAMS.iter().find(|spec| {
            spec.subjects
                .iter()
                .any(|pattern| pattern.strip_suffix('>').is_some_and(|prefix| logical_subject.starts_with(prefix)))
        })
    }
}

/// Whether an existing stream already has the settings `wanted` asks for.
fn same_settings(current: &stream::Config, wanted: &stream::Config) -> bool {
    let mut current_subjects = current.subjects.clone();
    let mut wanted_subjects = wanted.subjects.clone();
    current_subjects.sort();
    wanted_subjects.sort();
    current_subjects == wanted_subjects
        && current.max_age == wanted.max_age
        && current.num_replicas == wanted.num_replicas
        && current.duplicate_window == wanted.duplicate_window
        && current.storage == wanted.storage
        && current.retention == wanted.retention
}

/// A namespace usable in both subject and stream names: `[a-z0-9_]*`.
pub fn is_valid_namespace(namespace: &str) -> bool {
    namespace.len() <= 32 && namespace.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

impl crate::server::ReadinessCheck for EventBus {
    fn name(&self) -> &'static str {
        "nats"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            match self.client.connection_state() {
                async_nats::connection::State::Connected => Ok(()),
                other => Err(format!("{other:?}").to_lowercase()),
            }
        })
    }
}
