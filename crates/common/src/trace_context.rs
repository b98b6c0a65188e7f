//! W3C trace context (`traceparent`) for a request, kept without the OpenTelemetry SDK when
//! spans are not exported.
//!
//! When `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the OpenTelemetry layer owns the context: the
//! request span continues the caller's trace and outbound calls carry it. When it is not, that
//! layer is not installed (building a span for the SDK on every request cost more than the
//! rest of the request path's tracing), and this module does the part that still matters: the
//! request continues the caller's trace id with a span id of its own, logs carry both, and
//! outbound calls and outbox events carry a `traceparent` that names it, so one trace id still
//! follows a request through every service.
//!
//! ```
//! use aex_common::trace_context::TraceContext;
//! let caller = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
//! let request = caller.child();
//! assert_eq!(request.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
//! assert_ne!(request.span_id_hex(), "00f067aa0ba902b7");
//! assert!(request.traceparent().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
//! ```

use std::sync::atomic::{AtomicBool, Ordering};

tokio::task_local! {
    /// The trace context of the request being served; set by the stack's `observe` layer.
    pub static CURRENT: TraceContext;
}

/// Whether the OpenTelemetry layer is installed and owns trace context (spans exported).
static OTEL_OWNS_CONTEXT: AtomicBool = AtomicBool::new(false);

/// Telemetry calls this when it installs the exporting OpenTelemetry layer.
pub(crate) fn set_otel_owns_context(owns: bool) {
    OTEL_OWNS_CONTEXT.store(owns, Ordering::Relaxed);
}

/// Whether trace context comes from the OpenTelemetry layer rather than from [`CURRENT`].
pub fn otel_owns_context() -> bool {
    OTEL_OWNS_CONTEXT.load(Ordering::Relaxed)
}

/// A trace id, a span id and the sampled flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    sampled: bool,
}

impl TraceContext {
    /// A new trace (no caller's context, or an invalid one).
    pub fn root() -> Self {
        Self { trace_id: random_nonzero(), span_id: random_nonzero(), sampled: true }
    }

    /// The context a `traceparent` header names, version 00 (or a later version's first four
    /// fields, as the specification asks); `None` when it is malformed or all-zero.
    pub fn parse(header: &str) -> Option<Self> {
        let mut fields = header.trim().split('-');
        let version = fields.next()?;
        let (trace, span, flags) = (fields.next()?, fields.next()?, fields.next()?);
        let version = u8::from_str_radix(version, 16).ok().filter(|_| version.len() == 2)?;
        if version == 0xff || (version == 0 && fields.next().is_some()) {
            return None;
        }
        let trace_id: [u8; 16] = decode_lower_hex(trace)?;
        let span_id: [u8; 8] = decode_lower_hex(span)?;
        let [flags]: [u8; 1] = decode_lower_hex(flags)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(Self { trace_id, span_id, sampled: flags & 1 == 1 })
    }

    /// The same trace with a new span id: this request's, or an outbound call's.
    pub fn child(&self) -> Self {
        Self { span_id: random_nonzero(), ..*self }
    }

    pub fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }

    pub fn span_id_hex(&self) -> String {
        hex::encode(self.span_id)
    }

    /// `00-<trace id>-<span id>-<flags>`.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id_hex(), self.span_id_hex(), u8::from(self.sampled))
    }
}

/// The `traceparent` an outbound call or event from the current request carries: its trace,
/// with a span id of its own under the request's. `None` outside a request.
pub fn outbound_traceparent() -> Option<String> {
    CURRENT.try_with(|current| current.child().traceparent()).ok()
}

fn decode_lower_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

fn random_nonzero<const N: usize>() -> [u8; N] {
    loop {
        let mut bytes = [0u8; N];
        fastrand::fill(&mut bytes);
        if bytes != [0u8; N] {
            return bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_round_trips() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(TraceContext::parse(header).map(|c| c.traceparent()).as_deref(), Some(header));
        let unsampled = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
        assert_eq!(unsampled.map(|c| c.sampled), Some(false));
        // A later version may append fields; its first four are read.
        assert!(TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra").is_some());
    }

    #[test]
    fn malformed_or_zero_contexts_are_refused() {
        for header in [
            "",
            "00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(header), None, "{header:?}");
        }
    }

    #[test]
    fn a_child_keeps_the_trace_and_takes_a_new_span() {
        let root = TraceContext::root();
        let child = root.child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.span_id, root.span_id);
        assert_eq!(TraceContext::parse(&child.traceparent()), Some(child));
    }

    #[tokio::test]
    async fn outbound_calls_carry_the_current_requests_trace() {
        assert_eq!(outbound_traceparent(), None, "outside a request");
        let request = TraceContext::root();
        let outbound = CURRENT.scope(request, async { outbound_traceparent() }).await;
        let parsed = outbound.as_deref().and_then(TraceContext::parse);
        assert_eq!(parsed.map(|c| c.trace_id), Some(request.trace_id));
        assert_ne!(parsed.map(|c| c.span_id), Some(request.span_id));
    }
}
