//! Logs, traces and metrics for a service process.
//!
//! Logs are JSON lines (or text for a terminal) carrying the request span's `request_id`,
//! `trace_id`, `span_id` and tenant. Every request has a W3C trace id, the caller's when it
//! sent one; spans go through OpenTelemetry and are exported over OTLP only when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (otherwise `trace_context` keeps the ids). Metrics go to a Prometheus recorder rendered at
//! `/metrics`.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::OnceLock;
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// Keeps the tracer provider alive; `shutdown` flushes spans not yet exported.
#[derive(Debug)]
pub struct Telemetry {
    /// Present when spans are exported.
    provider: Option<SdkTracerProvider>,
    metrics: PrometheusHandle,
}

impl Telemetry {
    pub fn metrics(&self) -> PrometheusHandle {
        self.metrics.clone()
    }

    /// Flushes and stops span export; call once on the way out.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown()
        {
            eprintln!("trace export shutdown failed: {error}");
        }
    }
}

/// Errors that stop a service from starting its telemetry.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OTLP exporter: {0}")]
    Exporter(String),
    #[error("log subscriber already installed: {0}")]
    Subscriber(String),
}

/// Installs logging, tracing and metrics for `service`. Call once, early in `main`.
pub fn init(service: &'static str, format: LogFormat) -> Result<Telemetry, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let exporting = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok_and(|v| !v.is_empty());
    // Spans go through the OpenTelemetry SDK only when they are exported: otherwise building
    // them cost the request path more than everything else it traces, and the request's W3C
    // context is kept by `trace_context` instead.
    let (provider, otel_layer) = if exporting {
        let provider = tracer_provider(service)?;
        opentelemetry::global::set_tracer_provider(provider.clone());
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(service));
        (Some(provider), Some(layer))
    } else {
        (None, None)
    };
    crate::trace_context::set_otel_owns_context(exporting);

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt_layer = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_target(true)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().with_target(true).boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(otel_layer)
        .with(fmt_layer)
        .try_init()
        .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;

    Ok(Telemetry { provider, metrics: metrics_recorder() })
}

fn tracer_provider(service: &'static str) -> Result<SdkTracerProvider, TelemetryError> {
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(service).build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    Ok(builder.with_batch_exporter(exporter).build())
}

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use, with its upkeep task.
///
/// A process has one metrics recorder; tests that start several services in one process
/// share it, which is why this is idempotent.
pub fn metrics_recorder() -> PrometheusHandle {
    RECORDER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics shows only its own");
            }
            let upkeep = handle.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let mut tick = tokio::time::interval(Duration::from_secs(5));
                    loop {
                        tick.tick().await;
                        upkeep.run_upkeep();
                    }
                });
            }
            handle
        })
        .clone()
}
