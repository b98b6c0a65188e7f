//! Dead letters: messages a consumer gave up on, kept in the DEADLETTER stream with what an
//! operator needs to understand and replay them.

use super::{EventBus, EventError};
use aex_types::Timestamp;
use async_nats::jetstream::message::PublishMessage as Publish;
use serde::{Deserialize, Serialize};

/// What is stored for a message that could not be handled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeadLetter {
    pub consumer: String,
    pub original_subject: String,
    pub stream: String,
    pub stream_sequence: u64,
    pub event_id: Option<String>,
    /// The original payload: JSON when it was JSON, otherwise a string of its bytes.
    pub payload: serde_json::Value,
    pub error: String,
    pub attempts: i64,
    pub failed_at: Timestamp,
}

impl DeadLetter {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        consumer: &str,
        original_subject: &str,
        stream: &str,
        stream_sequence: u64,
        event_id: Option<&str>,
        payload: &[u8],
        error: String,
        attempts: i64,
    ) -> Self {
        let payload = serde_json::from_slice(payload)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(payload).into_owned()));
        Self {
            consumer: consumer.to_string(),
            original_subject: original_subject.to_string(),
            stream: stream.to_string(),
            stream_sequence,
            event_id: event_id.map(str::to_string),
            payload,
            error,
            attempts,
            failed_at: Timestamp::now(),
        }
    }
}

/// Publishes `letter` to `deadletter.<original subject>` and waits for the stream's ack.
pub async fn publish(bus: &EventBus, letter: &DeadLetter) -> Result<(), EventError> {
    let subject = bus.subject(&format!("deadletter.{}", letter.original_subject));
    let body = serde_json::to_vec(letter)?;
    // One dead letter per consumer and stream position, even if the ack below is lost.
    let message_id = format!("dlq-{}-{}-{}", letter.consumer, letter.stream, letter.stream_sequence);
    let ack = bus
        .jetstream()
        .send_publish(subject.clone(), Publish::build().payload(body.into()).message_id(message_id))
        .await
        .map_err(|e| EventError::Publish { subject: subject.clone(), message: e.to_string() })?;
    ack.await.map_err(|e| EventError::Publish { subject, message: e.to_string() })?;
    Ok(())
}

/// A stored dead letter with its position in the DEADLETTER stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDeadLetter {
    pub sequence: u64,
    pub letter: DeadLetter,
}

/// Reads up to `limit` dead letters starting at stream sequence `from`.
pub async fn list(bus: &EventBus, from: u64, limit: usize) -> Result<Vec<StoredDeadLetter>, EventError> {
    let name = bus.stream_name("DEADLETTER");
    let stream_error = |e: &dyn std::fmt::Display| EventError::Stream { stream: name.clone(), message: e.to_string() };
    let mut stream = bus.jetstream().get_stream(&name).await.map_err(|e| stream_error(&e))?;
    let info = stream.info().await.map_err(|e| stream_error(&e))?;
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    let mut letters = Vec::new();
    if info.state.messages == 0 {
        return Ok(letters);
    }
    let mut sequence = from.max(first).max(1);
    while sequence <= last && letters.len() < limit {
        match stream.get_raw_message(sequence).await {
            Ok(raw) => {
                if let Ok(letter) = serde_json::from_slice::<DeadLetter>(&raw.payload) {
                    letters.push(StoredDeadLetter { sequence, letter });
                }
            }
            Err(error) => tracing::debug!(sequence, %error, "dead letter not readable"),
        }
        sequence += 1;
    }
    Ok(letters)
}

/// Re-publishes the original event of the dead letter at `sequence` to its original subject.
/// The consumer's inbox has no row for it (its failed attempts rolled back), so it is handled
/// as new; a replay of an event that has since succeeded is still a no-op.
pub async fn replay(bus: &EventBus, sequence: u64) -> Result<DeadLetter, EventError> {
    let name = bus.stream_name("DEADLETTER");
    let stream = bus
        .jetstream()
        .get_stream(&name)
        .await
        .map_err(|e| EventError::Stream { stream: name.clone(), message: e.to_string() })?;
    let raw = stream
        .get_raw_message(sequence)
        .await
        .map_err(|e| EventError::Stream { stream: name.clone(), message: e.to_string() })?;
    let letter: DeadLetter = serde_json::from_slice(&raw.payload)?;
    let subject = bus.subject(&letter.original_subject);
    let body = serde_json::to_vec(&letter.payload)?;
    let message_id = format!("replay-{name}-{sequence}-{}", Timestamp::now().unix_millis());
    let ack = bus
        .jetstream()
        .send_publish(subject.clone(), Publish::build().payload(body.into()).message_id(message_id))
        .await
        .map_err(|e| EventError::Publish { subject: subject.clone(), message: e.to_string() })?;
    ack.await.map_err(|e| EventError::Publish { subject, message: e.to_string() })?;
    Ok(letter)
}
