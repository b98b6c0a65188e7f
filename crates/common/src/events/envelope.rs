//! The event envelope every AEX event travels in.

use aex_types::Timestamp;
use serde::{Deserialize, Serialize};

/// `{event_id, event_type, schema_version, occurred_at, source, tenant_id, traceparent, data}`.
///
/// `event_id` is unique per event and doubles as the JetStream `Nats-Msg-Id` and the
/// consumers' inbox key, which is what makes publishing and handling idempotent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventEnvelope<T> {
    pub event_id: String,
    pub event_type: String,
    pub schema_version: u32,
    pub occurred_at: Timestamp,
    pub source: String,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub traceparent: Option<String>,
    pub data: T,
}
