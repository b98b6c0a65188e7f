//! Forwards a public route to the service that owns it: method, path, query, body and a few
//! safe headers, with a fresh service token (tenant, scopes, request id) as the only
//! credential. The client's `Authorization`, `X-API-Key` and any `X-Tenant-ID` never travel on.

use crate::AppState;
use crate::auth::Caller;
use crate::config::UpstreamArgs;
use crate::domain::route::Service;
use crate::error::Error;
use aex_common::http_client::{CallError, Downstream, RequestBody, RequestSpec};
use aex_common::server::input::check_json;
use aex_common::server::{RequestId, current_request_id, is_json_content_type};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

/// Names the service that actually answered (the gateway's own stack sets `x-aex-service`).
pub static X_AEX_UPSTREAM: HeaderName = HeaderName::from_static("x-aex-upstream");

/// Client headers a service may see.
const FORWARDED_REQUEST_HEADERS: [&str; 5] = ["content-type", "accept", "idempotency-key", "traceparent", "tracestate"];
/// Service headers the client may see.
const RETURNED_RESPONSE_HEADERS: [&str; 7] =
    ["content-type", "content-disposition", "cache-control", "etag", "location", "retry-after", "idempotency-replayed"];

/// One downstream per service the gateway routes to.
#[derive(Debug, Clone)]
pub struct Upstreams {
    work_publisher: Downstream,
    bid_evaluator: Downstream,
    settlement: Downstream,
    certauth: Downstream,
}

impl Upstreams {
    pub fn new(args: &UpstreamArgs) -> Self {
        let at = |service: Service, url: &url::Url| Downstream::new(service.name(), url.clone());
        Self {
            work_publisher: at(Service::WorkPublisher, &args.work_publisher_url),
            bid_evaluator: at(Service::BidEvaluator, &args.bid_evaluator_url),
            settlement: at(Service::Settlement, &args.settlement_url),
            certauth: at(Service::Certauth, &args.certauth_url),
        }
    }

    fn of(&self, service: Service) -> Option<&Downstream> {
        match service {
            Service::Gateway => None,
            Service::WorkPublisher => Some(&self.work_publisher),
            Service::BidEvaluator => Some(&self.bid_evaluator),
            Service::Settlement => Some(&self.settlement),
            Service::Certauth => Some(&self.certauth),
        }
    }
}

/// Forwards `request` to `service`, reading at most `body_limit` bytes of its body.
pub async fn forward(
    State(state): State<AppState>,
    service: Service,
    body_limit: usize,
    request: Request,
) -> Result<Response, Error> {
    let downstream =
        state.upstreams.of(service).ok_or_else(|| Error::Internal(format!("no upstream for {service:?}")))?;
    let (parts, body) = request.into_parts();
    // The stack's stream limit is the largest any route accepts; this route's own applies here.
    let body = axum::body::to_bytes(body, body_limit).await.map_err(|_| Error::PayloadTooLarge)?;
    // The same input policy the services apply, before anything is forwarded.
    if !body.is_empty()
        && is_json_content_type(&parts.headers)
        && let Err(refusal) = check_json(&body)
    {
        return Ok(refusal.into_response());
    }
    let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone()).unwrap_or_else(current_request_id);
    let caller = parts.extensions.get::<Caller>();
    let token = state
        .tokens
        .mint(
            "gateway",
            caller.map(|c| c.tenant_id.as_str()),
            caller.map(|c| c.scopes.as_slice()).unwrap_or_default(),
            Some(&request_id),
        )
        .map_err(|e| Error::Internal(format!("minting a service token: {e}")))?;

    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or_else(|| parts.uri.path());
    let mut spec = RequestSpec::new(parts.method.clone(), path).headers(forwarded_headers(&parts.headers, &request_id));
    if !body.is_empty() {
        spec = spec.body(RequestBody::Bytes(body));
    }
    let answer =
        state.http.call(downstream, spec.bearer(token)).await.map_err(|error| upstream_error(service, error))?;

    let mut response = Response::new(Body::from(answer.body().clone()));
    *response.status_mut() = answer.status();
    let headers = response.headers_mut();
    for name in RETURNED_RESPONSE_HEADERS {
        if let Some(value) = answer.headers().get(name) {
            headers.insert(HeaderName::from_static(name), value.clone());
        }
    }
    let answered_by =
        answer.headers().get("x-aex-service").cloned().unwrap_or_else(|| HeaderValue::from_static(service.name()));
    headers.insert(X_AEX_UPSTREAM.clone(), answered_by);
    Ok(response)
}

fn forwarded_headers(client: &HeaderMap, request_id: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for name in FORWARDED_REQUEST_HEADERS {
        if let Some(value) = client.get(name) {
            headers.insert(HeaderName::from_static(name), value.clone());
        }
    }
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(HeaderName::from_static("x-request-id"), value);
    }
    headers
}

fn upstream_error(service: Service, error: CallError) -> Error {
    let service = service.name();
    match error {
        CallError::CircuitOpen { retry_in, .. } => Error::UpstreamUnavailable { service, retry_in },
        CallError::Timeout { .. } => Error::UpstreamTimeout { service },
        CallError::Transport { .. } => Error::UpstreamUnreachable { service },
        other => Error::Internal(format!("forwarding to {service}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn only_safe_headers_travel_upstream() {
        let mut client = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer aexk_secret"),
            ("x-api-key", "aexk_secret"),
            ("x-tenant-id", "tenant_someone_else"),
            ("cookie", "session=1"),
            ("content-type", "application/json"),
            ("idempotency-key", "k-1"),
            ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ("x-request-id", "client-chosen"),
        ] {
            client.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        let sent = forwarded_headers(&client, "req-1");
        for banned in ["authorization", "x-api-key", "x-tenant-id", "cookie"] {
            assert!(!sent.contains_key(banned), "{banned} forwarded");
        }
        assert_eq!(sent["content-type"], "application/json");
        assert_eq!(sent["idempotency-key"], "k-1");
        assert!(sent.contains_key("traceparent"));
        assert_eq!(sent["x-request-id"], "req-1", "the gateway's request id, as resolved by the stack");
    }

    #[test]
    fn upstream_failures_map_to_gateway_statuses() {
        use std::sync::Arc;
        use std::time::Duration;
        let name: Arc<str> = Arc::from("settlement");
        let open = upstream_error(
            Service::Settlement,
            CallError::CircuitOpen { downstream: name.clone(), retry_in: Duration::from_secs(3) },
        );
        assert_eq!(open.status(), StatusCode::SERVICE_UNAVAILABLE);
        let timeout = upstream_error(
            Service::Settlement,
            CallError::Timeout { downstream: name.clone(), timeout: Duration::from_secs(1) },
        );
        assert_eq!(timeout.status(), StatusCode::GATEWAY_TIMEOUT);
        let refused =
            upstream_error(Service::Settlement, CallError::Transport { downstream: name, message: "refused".into() });
        assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
    }
}
