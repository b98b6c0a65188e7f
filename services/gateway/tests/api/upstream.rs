//! A stand-in for one of the four services: verifies the service token like a real service
//! and echoes what it received, so tests can see exactly what the gateway forwarded.

use aex_common::auth::ServiceTokens;
use aex_common::secret::Secret;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Clone)]
pub struct Upstream {
    pub name: &'static str,
    pub url: String,
    calls: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct EchoState {
    name: &'static str,
    tokens: ServiceTokens,
    calls: Arc<AtomicUsize>,
}

impl Upstream {
    pub async fn start(name: &'static str, token_secret: &str) -> Self {
        let tokens = ServiceTokens::new(&Secret::new(token_secret.to_string()), Duration::from_secs(60)).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let state = EchoState { name, tokens, calls: calls.clone() };
        let app = axum::Router::new().fallback(echo).with_state(state);
        let (listener, addr) = aex_testkit::listener().await;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { name, url: format!("http://{addr}"), calls }
    }

    /// Requests this upstream has received.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn echo(State(state): State<EchoState>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    state.calls.fetch_add(1, Ordering::SeqCst);
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let Some(claims) = bearer.and_then(|token| state.tokens.verify(token).ok()) else {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": {"code": "INVALID_TOKEN"}}))).into_response();
    };
    if let Some(delay) = uri.query().and_then(|q| q.strip_prefix("delay_ms=")).and_then(|d| d.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = json!({
        "service": state.name,
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "body": String::from_utf8_lossy(&body),
        "caller": claims.sub,
        "tenant_id": claims.tenant_id,
        "scopes": claims.scopes,
        "request_id": claims.request_id,
        "x_request_id": header("x-request-id"),
        "x_tenant_id": header("x-tenant-id"),
        "x_api_key": header("x-api-key"),
        "idempotency_key": header("idempotency-key"),
        "content_type": header("content-type"),
        "traceparent": header("traceparent"),
    });
    ([("x-aex-service", state.name)], axum::Json(body)).into_response()
}
