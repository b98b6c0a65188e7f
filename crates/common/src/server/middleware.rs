//! The standard middleware stack: request id, trace context, per-route metrics, CORS, request
//! head checks, timeout, error-envelope normalisation, body limits and panic capture.

use super::error::{ApiError, REQUEST_ID, code_for_status};
use crate::trace_context::{self, TraceContext};
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;
use std::any::Any;
use std::time::{Duration, Instant};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, Any as AnyOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The request id header, echoed on every response.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Names the service that produced a response, so routing can be verified end to end.
pub static X_AEX_SERVICE: HeaderName = HeaderName::from_static("x-aex-service");

/// The request id of the current request, as an axum extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Settings of the stack; `Default` is what every service uses unless configured.
#[derive(Debug, Clone)]
pub struct StackConfig {
    pub service: &'static str,
    pub request_timeout: Duration,
    /// Largest body a route reads unless it raises its own limit (`DefaultBodyLimit`).
    pub body_limit_bytes: usize,
    /// Largest body any route may raise its limit to; no request body streams past it.
    pub largest_body_bytes: usize,
    /// Allowed CORS origins; `*` allows any (without credentials). Empty allows none unless
    /// `cors_any_origin` is set.
    pub cors_origins: Vec<String>,
    /// Allow any origin when none is listed (development's default).
    pub cors_any_origin: bool,
}

impl StackConfig {
    pub fn new(service: &'static str) -> Self {
        Self {
            service,
            request_timeout: Duration::from_secs(30),
            body_limit_bytes: 1024 * 1024,
            largest_body_bytes: 1024 * 1024,
            cors_origins: Vec::new(),
            cors_any_origin: false,
        }
    }
}

/// Wraps `router` in the standard stack. Apply it last, after all routes are added.
pub fn apply_stack(router: Router, config: &StackConfig) -> Router {
    let timeout = config.request_timeout;
    let service = HeaderValue::from_static(config.service);
    // Listed innermost first: `observe` wraps everything, so every response carries the
    // request id; `guard`'s error normalisation sits outside the timeout and body limits
    // whose answers it rewrites.
    // Each layer is a boxed service cloned per request, so the per-request concerns that
    // need no ordering of their own share one (`observe`).
    router
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(RequestBodyLimitLayer::new(config.largest_body_bytes.max(config.body_limit_bytes)))
        .layer(middleware::from_fn(move |req: Request, next: Next| guard(timeout, req, next)))
        .layer(cors_layer(&config.cors_origins, config.cors_any_origin))
        .layer(middleware::from_fn(move |req: Request, next: Next| observe(service.clone(), req, next)))
}

fn cors_layer(origins: &[String], any_when_unset: bool) -> CorsLayer {
    let layer =
        CorsLayer::new().allow_methods(AnyOrigin).allow_headers(AnyOrigin).expose_headers([X_REQUEST_ID.clone()]);
    if origins.iter().any(|o| o == "*") || (origins.is_empty() && any_when_unset) {
        return layer.allow_origin(AnyOrigin);
    }
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    layer.allow_origin(AllowOrigin::list(allowed))
}

/// What every request gets around it, in one layer:
/// - its request id: the caller's `X-Request-ID` when it is sane, otherwise a new one, made
///   available to handlers (extension and task-local) and echoed on the response;
/// - its span, a child of the caller's W3C `traceparent`, so one trace follows a request
///   through every service, with its ids recorded for the JSON logs;
/// - its count and latency by matched route (never the raw path);
/// - `X-AEX-Service`, unless a proxy already passed on the name of the service that answered.
///
/// Each request is logged when it completes: server errors at WARN, client errors at INFO and
/// the rest at DEBUG, so a busy service's logs hold what needs attention while the metrics
/// count every request.
async fn observe(service: HeaderValue, mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_acceptable_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| aex_types::RequestId::new().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_string();
    let method = req.method().clone();
    let (span, trace) = request_span(&req, &id);
    let started = Instant::now();
    let served = REQUEST_ID.scope(id.clone(), next.run(req).instrument(span.clone()));
    let mut response = match trace {
        Some(trace) => trace_context::CURRENT.scope(trace, served).await,
        None => served.await,
    };
    let elapsed = started.elapsed();
    let status = response.status();
    span.in_scope(|| {
        let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let code = status.as_u16();
        if status.is_server_error() {
            tracing::warn!(status = code, elapsed_ms, "request completed");
        } else if status.is_client_error() {
            tracing::info!(status = code, elapsed_ms, "request completed");
        } else {
            tracing::debug!(status = code, elapsed_ms, "request completed");
        }
    });
    record_metrics(method.as_str(), route, status, elapsed);
    let headers = response.headers_mut();
    if !headers.contains_key(&X_AEX_SERVICE) {
        headers.insert(X_AEX_SERVICE.clone(), service);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(X_REQUEST_ID.clone(), value);
    }
    response
}

fn is_acceptable_request_id(value: &str) -> bool {
    !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

struct HeaderExtractor<'a>(&'a axum::http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// The request's span, a child of the caller's W3C `traceparent`, with its trace and span
/// ids recorded for the logs; and, when OpenTelemetry does not own the context, the request's
/// context for [`trace_context::CURRENT`].
fn request_span(req: &Request, request_id: &str) -> (tracing::Span, Option<TraceContext>) {
    // Fields are given when the span opens wherever possible: the JSON log layer formats a
    // span's fields again on every later `record`.
    if !trace_context::otel_owns_context() {
        let caller = req.headers().get("traceparent").and_then(|v| v.to_str().ok()).and_then(TraceContext::parse);
        let trace = caller.map(|c| c.child()).unwrap_or_else(TraceContext::root);
        let span = tracing::info_span!(
            "request",
            method = %req.method(),
            path = %req.uri().path(),
            request_id = %request_id,
            trace_id = %trace.trace_id_hex(),
            span_id = %trace.span_id_hex(),
            tenant_id = tracing::field::Empty,
        );
        return (span, Some(trace));
    }
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %request_id,
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
        tenant_id = tracing::field::Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(req.headers()))
    });
    // Without an installed tracer the parent cannot be set; the request still proceeds.
    let _ = span.set_parent(parent);
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        span.record("trace_id", span_context.trace_id().to_string());
        span.record("span_id", span_context.span_id().to_string());
    }
    (span, None)
}

/// Refuses an unsound request head before anything reads the request, abandons a request that
/// takes longer than `timeout` (503 `TIMEOUT`), and gives every error answer from below the
/// standard envelope.
async fn guard(timeout: Duration, req: Request, next: Next) -> Response {
    if let Some(refusal) = super::input::refusal_of_head(&req) {
        return refusal;
    }
    let response = match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "TIMEOUT", "the request took too long and was abandoned")
                .into_response()
        }
    };
    normalize_error_body(response).await
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "handler panicked");
    metrics::counter!("aex_http_panics_total").increment(1);
    ApiError::internal().into_response()
}

/// Framework answers (unknown route, wrong method, body too large, bad JSON) come as plain
/// text; every error a client sees must be the standard envelope, so they are rewritten here.
async fn normalize_error_body(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() || status.is_server_error() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    let envelope = ApiError::new(status, code_for_status(status), message).envelope();
    let body = serde_json::to_vec(&envelope).unwrap_or_default();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// Request count and latency labelled by the matched route, never the raw path.
fn record_metrics(method: &str, route: String, status: StatusCode, elapsed: Duration) {
    let labels = [("method", method.to_string()), ("route", route)];
    metrics::histogram!("aex_http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
    let [method, route] = labels;
    let labels = [method, route, ("status", status.as_u16().to_string())];
    metrics::counter!("aex_http_requests_total", &labels).increment(1);
}
