//! `/health` (liveness, always cheap), `/health/ready` (every dependency checked) and `/metrics`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::future::{BoxFuture, join_all};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// A dependency the service needs to serve traffic (Postgres, NATS, Redis, ...).
pub trait ReadinessCheck: Send + Sync {
    fn name(&self) -> &'static str;
    /// `Ok` when usable; the error text is shown in the readiness body, so no secrets.
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

impl ReadinessCheck for sqlx::PgPool {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(self).await.map(|_| ()).map_err(|e| {
                tracing::warn!(error = %e, "postgres readiness check failed");
                "unreachable".to_string()
            })
        })
    }
}

#[derive(Clone)]
struct HealthState {
    service: &'static str,
    checks: Arc<Vec<Arc<dyn ReadinessCheck>>>,
    metrics: Option<PrometheusHandle>,
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The operational routes. Merge into the service router before applying the stack.
pub fn health_routes(
    service: &'static str,
    checks: Vec<Arc<dyn ReadinessCheck>>,
    metrics: Option<PrometheusHandle>,
) -> Router {
    let state = HealthState { service, checks: Arc::new(checks), metrics };
    Router::new()
        .route("/health", get(liveness))
        .route("/health/ready", get(readiness))
        .route("/metrics", get(render_metrics))
        .with_state(state)
}

async fn liveness(State(state): State<HealthState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "service": state.service,
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

async fn readiness(State(state): State<HealthState>) -> Response {
    let results = join_all(state.checks.iter().map(|check| async move {
        let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check.check()).await {
            Ok(result) => result,
            Err(_) => Err("timed out".to_string()),
        };
        (check.name(), outcome)
    }))
    .await;
    let mut all_ok = true;
    let mut dependencies = Map::new();
    for (name, outcome) in results {
        let entry = match outcome {
            Ok(()) => json!({"status": "ok"}),
            Err(error) => {
                all_ok = false;
                json!({"status": "unavailable", "error": error})
            }
        };
        dependencies.insert(name.to_string(), entry);
    }
    let status = if all_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if all_ok { "ready" } else { "not_ready" },
        "service": state.service,
        "dependencies": dependencies,
    });
    (status, Json(body)).into_response()
}

async fn render_metrics(State(state): State<HealthState>) -> Response {
    match state.metrics {
        Some(handle) => {
            ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
        }
        None => (StatusCode::NOT_FOUND, "metrics recorder not installed").into_response(),
    }
}
