//! Metrics and trace-context propagation of outbound calls. Metrics are labelled by downstream
//! name only, never by path, so their cardinality is the number of downstreams.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use opentelemetry::propagation::Injector;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::breaker::BreakerState;

/// Gauge: 0 closed, 1 half-open, 2 open.
pub const BREAKER_STATE: &str = "aex_circuit_breaker_state";
/// Gauge: 1 while the breaker is open (calls fail fast), 0 otherwise; for alerting.
pub const BREAKER_OPEN: &str = "aex_http_breaker_open";
/// Counter of attempts (and of calls refused by an open breaker), by `outcome`.
pub const REQUESTS_TOTAL: &str = "aex_downstream_requests_total";
/// Histogram of attempt durations, in seconds.
pub const REQUEST_DURATION: &str = "aex_downstream_request_duration_seconds";

/// The `outcome` label of [`REQUESTS_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    ClientError,
    ServerError,
    TransportError,
    CircuitOpen,
}

impl Outcome {
    pub(crate) fn of_status(status: StatusCode) -> Self {
        if status.is_server_error() {
            Self::ServerError
        } else if status.is_client_error() {
            Self::ClientError
        } else {
            Self::Success
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::ClientError => "client_error",
            Self::ServerError => "server_error",
            Self::TransportError => "transport_error",
            Self::CircuitOpen => "circuit_open",
        }
    }
}

pub(crate) fn record_breaker_state(downstream: &Arc<str>, state: BreakerState) {
    metrics::gauge!(BREAKER_STATE, "downstream" => downstream.clone()).set(state.gauge_value());
    let open = if state == BreakerState::Open { 1.0 } else { 0.0 };
    metrics::gauge!(BREAKER_OPEN, "downstream" => downstream.clone()).set(open);
}

pub(crate) fn record_outcome(downstream: &Arc<str>, outcome: Outcome) {
    metrics::counter!(REQUESTS_TOTAL, "downstream" => downstream.clone(), "outcome" => outcome.label()).increment(1);
}

pub(crate) fn record_attempt(downstream: &Arc<str>, outcome: Outcome, elapsed: Duration) {
    record_outcome(downstream, outcome);
    metrics::histogram!(REQUEST_DURATION, "downstream" => downstream.clone()).record(elapsed);
}

/// Writes W3C `traceparent`/`tracestate` for the current request or span into `headers`: the
/// request's own context when spans are not exported ([`crate::trace_context`]), otherwise the
/// current OpenTelemetry span's (a no-op when no propagator or layer is installed).
pub(crate) fn inject_trace_context(headers: &mut HeaderMap) {
    if !crate::trace_context::otel_owns_context()
        && let Some(traceparent) = crate::trace_context::outbound_traceparent()
        && let Ok(value) = HeaderValue::from_str(&traceparent)
    {
        headers.insert(HeaderName::from_static("traceparent"), value);
        return;
    }
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // A propagator producing an invalid header would be a bug there; skip rather than fail.
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(key.as_bytes()), HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}
