//! Writing events into the outbox, inside the caller's own transaction.
//!
//! Nothing publishes to NATS inside a request: the event row commits or rolls back with the
//! state change it describes, and the relay publishes it afterwards.

use super::{EventEnvelope, EventError};
use aex_types::{EventId, Timestamp};
use serde::Serialize;
use sqlx::PgConnection;
use std::collections::HashMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// An event to record: its type (also its logical subject, e.g. `work.submitted`), the tenant
/// it concerns and its payload.
#[derive(Debug)]
pub struct NewEvent<'a, T> {
    pub event_type: &'a str,
    pub schema_version: u32,
    pub tenant_id: Option<&'a str>,
    pub data: &'a T,
}

impl<'a, T> NewEvent<'a, T> {
    pub fn new(event_type: &'a str, data: &'a T) -> Self {
        Self { event_type, schema_version: 1, tenant_id: None, data }
    }

    pub fn tenant(mut self, tenant_id: &'a str) -> Self {
        self.tenant_id = Some(tenant_id);
        self
    }
}

/// The W3C `traceparent` of the current request ([`crate::trace_context`]) or, when spans are
/// exported, of the current span.
pub fn current_traceparent() -> Option<String> {
    if !crate::trace_context::otel_owns_context()
        && let Some(traceparent) = crate::trace_context::outbound_traceparent()
    {
        return Some(traceparent);
    }
    let context = tracing::Span::current().context();
    let mut carrier: HashMap<String, String> = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut carrier);
    });
    carrier.remove("traceparent")
}

/// Records `event` in the outbox of the connection's schema, as part of the caller's
/// transaction, and returns its envelope.
pub async fn enqueue<'a, T: Serialize>(
    conn: &mut PgConnection,
    source: &str,
    event: NewEvent<'a, T>,
) -> Result<EventEnvelope<&'a T>, EventError> {
    let envelope = EventEnvelope {
        event_id: EventId::new().to_string(),
        event_type: event.event_type.to_string(),
        schema_version: event.schema_version,
        occurred_at: Timestamp::now(),
        source: source.to_string(),
        tenant_id: event.tenant_id.map(str::to_string),
        traceparent: current_traceparent(),
        data: event.data,
    };
    let payload = serde_json::to_vec(&envelope)?;
    sqlx::query("INSERT INTO outbox (event_id, subject, payload, traceparent) VALUES ($1, $2, $3, $4)")
        .bind(&envelope.event_id)
        .bind(&envelope.event_type)
        .bind(payload)
        .bind(&envelope.traceparent)
        .execute(conn)
        .await?;
    Ok(envelope)
}
