//! The standard middleware stack through a real HTTP server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aex_common::server::{ApiError, Json, StackConfig, apply_stack};
use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use serde::Deserialize;
use std::sync::Once;
use std::time::Duration;

static TELEMETRY: Once = Once::new();

fn init_telemetry() {
    TELEMETRY.call_once(|| {
        aex_common::runtime::install_crypto_provider();
        // Keeps the tracer provider alive for the whole test process.
        let telemetry =
            aex_common::telemetry::init("server-tests", aex_common::telemetry::LogFormat::Text).expect("telemetry");
        std::mem::forget(telemetry);
    });
}

#[derive(Debug, Deserialize)]
struct Order {
    #[allow(dead_code)]
    quantity: u32,
}

/// The one route of the test app that raises its body limit.
const BATCH_LIMIT: usize = 2 * 1024 * 1024;

async fn start() -> String {
    init_telemetry();
    let routes = Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route(
            "/panic",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("db password is hunter2");
                }
                "unreachable"
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route("/orders", post(|Json(order): Json<Order>| async move { format!("{order:?}") }))
        .route(
            "/batches",
            post(|Json(items): Json<Vec<Order>>| async move { items.len().to_string() })
                .layer(axum::extract::DefaultBodyLimit::max(BATCH_LIMIT)),
        )
        .route("/items/{id}", get(|Path(id): Path<String>| async move { id }))
        .route(
            "/conflict",
            get(|| async {
                ApiError::new(axum::http::StatusCode::CONFLICT, "WORK_ALREADY_AWARDED", "already awarded")
            }),
        )
        .route("/trace", get(|| async { aex_common::events::outbox::current_traceparent().unwrap_or_default() }))
        .merge(aex_common::server::health_routes("tests", vec![], Some(aex_common::telemetry::metrics_recorder())));
    let mut config = StackConfig::new("tests");
    config.request_timeout = Duration::from_millis(300);
    config.cors_origins = vec!["https://app.example".into()];
    config.largest_body_bytes = BATCH_LIMIT;
    let app = apply_stack(routes, &config);
    let (listener, addr) = aex_testkit::listener().await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(async move { aex_common::server::serve(listener, app, shutdown).await.unwrap() });
    format!("http://{addr}")
}

async fn envelope(response: reqwest::Response) -> aex_api::ErrorEnvelope {
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    response.json().await.expect("body is the standard error envelope")
}

#[tokio::test]
async fn a_panicking_handler_answers_500_without_leaking_the_panic() {
    let base = start().await;
    let response = reqwest::get(format!("{base}/panic")).await.unwrap();
    assert_eq!(response.status(), 500);
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    let text = response.text().await.unwrap();
    assert!(!text.contains("hunter2"), "panic message leaked: {text}");
    let body: aex_api::ErrorEnvelope = serde_json::from_str(&text).unwrap();
    assert_eq!(body.error.code, "INTERNAL_ERROR");
    assert_eq!(body.error.request_id, request_id);
    // The server is still up.
    assert_eq!(reqwest::get(format!("{base}/ok")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_refused_with_413() {
    let base = start().await;
    let big = format!("{{\"quantity\": 1, \"pad\": \"{}\"}}", "x".repeat(1024 * 1024 + 1));
    let response = reqwest::Client::new()
        .post(format!("{base}/orders"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(envelope(response).await.error.code, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn a_route_may_raise_its_body_limit_and_the_boundary_is_exact() {
    let base = start().await;
    let client = reqwest::Client::new();
    // A valid batch padded with whitespace to exactly `size` bytes.
    let batch = |size: usize| {
        let mut body = String::from("[{\"quantity\": 1}");
        body.push_str(&" ".repeat(size - body.len() - 1));
        body.push(']');
        assert_eq!(body.len(), size);
        body
    };
    let post = |path: &'static str, body: String| {
        client.post(format!("{base}{path}")).header("content-type", "application/json").body(body).send()
    };
    let at_limit = post("/batches", batch(BATCH_LIMIT)).await.unwrap();
    assert_eq!(at_limit.status(), 200);
    assert_eq!(at_limit.text().await.unwrap(), "1");
    let over = post("/batches", batch(BATCH_LIMIT + 1)).await.unwrap();
    assert_eq!(over.status(), 413);
    assert_eq!(envelope(over).await.error.code, "PAYLOAD_TOO_LARGE");
    // Every other route keeps the default of 1 MiB.
    let order = |size: usize| {
        let mut body = String::from("{\"quantity\": 1");
        body.push_str(&" ".repeat(size - body.len() - 1));
        body.push('}');
        body
    };
    assert_eq!(post("/orders", order(1024 * 1024)).await.unwrap().status(), 200);
    let over = post("/orders", order(1024 * 1024 + 1)).await.unwrap();
    assert_eq!(over.status(), 413);
    assert_eq!(envelope(over).await.error.code, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn text_that_cannot_be_stored_is_refused_in_paths_queries_and_json() {
    let base = start().await;
    let client = reqwest::Client::new();
    for path in ["/items/x%00", "/items/x%ff", "/items/a%0d%0ab", "/items/ok?q=%00", "/no-such-route%00", "/ok?x=%1b"] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(envelope(response).await.error.code, "INVALID_CHARACTERS", "{path}");
    }
    assert_eq!(client.get(format!("{base}/items/caf%C3%A9?q=a%20b")).send().await.unwrap().status(), 200);
    let post = |body: &'static str| {
        client.post(format!("{base}/orders")).header("content-type", "application/json").body(body).send()
    };
    let duplicate = post(r#"{"quantity": 1, "quantity": 2}"#).await.unwrap();
    assert_eq!(duplicate.status(), 400);
    assert_eq!(envelope(duplicate).await.error.code, "DUPLICATE_JSON_KEY");
    let nul = post(r#"{"quantity": 1, "note": "a\u0000b"}"#).await.unwrap();
    assert_eq!(nul.status(), 400);
    assert_eq!(envelope(nul).await.error.code, "INVALID_CHARACTERS");
}

#[tokio::test]
async fn bad_json_is_a_400_naming_the_problem_and_missing_content_type_a_415() {
    let base = start().await;
    let client = reqwest::Client::new();
    let post = |body: &'static str, json: bool| {
        let mut request = client.post(format!("{base}/orders")).body(body);
        if json {
            request = request.header("content-type", "application/json");
        }
        request.send()
    };
    let malformed = post("{\"quantity\": ", true).await.unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(envelope(malformed).await.error.code, "MALFORMED_JSON");

    let wrong_type = post("{\"quantity\": \"many\"}", true).await.unwrap();
    assert_eq!(wrong_type.status(), 400);
    let body = envelope(wrong_type).await;
    assert_eq!(body.error.code, "VALIDATION_ERROR");
    assert!(body.error.message.contains("quantity"), "{}", body.error.message);

    let no_type = post("{\"quantity\": 1}", false).await.unwrap();
    assert_eq!(no_type.status(), 415);
    assert_eq!(envelope(no_type).await.error.code, "UNSUPPORTED_MEDIA_TYPE");
}

#[tokio::test]
async fn slow_requests_are_abandoned_at_the_timeout() {
    let base = start().await;
    let started = std::time::Instant::now();
    let response = reqwest::get(format!("{base}/slow")).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(response.status(), 503);
    assert_eq!(envelope(response).await.error.code, "TIMEOUT");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_envelope() {
    let base = start().await;
    let missing = reqwest::get(format!("{base}/nope")).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(envelope(missing).await.error.code, "NOT_FOUND");
    let wrong_method = reqwest::Client::new().delete(format!("{base}/ok")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(envelope(wrong_method).await.error.code, "METHOD_NOT_ALLOWED");
    let conflict = reqwest::get(format!("{base}/conflict")).await.unwrap();
    assert_eq!(conflict.status(), 409);
    let body = envelope(conflict).await;
    assert_eq!(body.error.code, "WORK_ALREADY_AWARDED");
    assert!(!body.error.request_id.is_empty(), "handler errors carry the request id");
}

#[tokio::test]
async fn request_ids_are_echoed_when_sane_and_generated_otherwise() {
    let base = start().await;
    let client = reqwest::Client::new();
    let given = client.get(format!("{base}/ok")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(given.headers()["x-request-id"], "abc-123");
    let generated = client.get(format!("{base}/ok")).send().await.unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert!(id.starts_with("req_") && id.len() == 30, "{id}");
    let hostile = client.get(format!("{base}/ok")).header("x-request-id", "a b<script>").send().await.unwrap();
    assert!(hostile.headers()["x-request-id"].to_str().unwrap().starts_with("req_"));
}

#[tokio::test]
async fn the_callers_trace_continues_in_the_request_span() {
    let base = start().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = reqwest::Client::new()
        .get(format!("{base}/trace"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    let traceparent = response.text().await.unwrap();
    assert!(traceparent.starts_with(&format!("00-{trace_id}-")), "got {traceparent:?}");
    assert!(!traceparent.contains("00f067aa0ba902b7"), "the request gets a span of its own");
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let base = start().await;
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, format!("{base}/orders"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example");
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn cors_allows_no_origin_unless_configured() {
    init_telemetry();
    let app = apply_stack(Router::new().route("/orders", post(|| async { "ok" })), &StackConfig::new("svc"));
    let (listener, addr) = aex_testkit::listener().await;
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let base = format!("http://{addr}");
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{base}/orders"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none(), "no origin is allowed by default");
}

#[tokio::test]
async fn metrics_are_labelled_by_matched_route() {
    let base = start().await;
    for id in ["alpha", "beta", "gamma"] {
        assert_eq!(reqwest::get(format!("{base}/items/{id}")).await.unwrap().status(), 200);
    }
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("route=\"/items/{id}\""), "{metrics}");
    assert!(!metrics.contains("alpha"), "raw path segments must not become labels");
}

/// Sends raw bytes and returns the answer's status line and body.
async fn raw(base: &str, request: Vec<u8>) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.lines().next().unwrap_or_default().to_string();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn oversized_heads_and_wrong_methods_get_the_envelope() {
    let base = start().await;
    let get = |target: String, extra: String| {
        format!("GET {target} HTTP/1.1\r\nhost: x\r\n{extra}connection: close\r\n\r\n").into_bytes()
    };
    let cases = [
        ("URI over 8 KiB", get(format!("/items/{}", "a".repeat(9 * 1024)), String::new()), "414", "URI_TOO_LONG"),
        (
            "header over 32 KiB",
            get("/ok".into(), format!("x-big: {}\r\n", "a".repeat(40 * 1024))),
            "431",
            "HEADERS_TOO_LARGE",
        ),
        (
            "150 headers",
            get("/ok".into(), (0..150).map(|i| format!("x-h{i}: v\r\n")).collect()),
            "431",
            "HEADERS_TOO_LARGE",
        ),
        (
            "wrong method",
            b"DELETE /ok HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_vec(),
            "405",
            "METHOD_NOT_ALLOWED",
        ),
    ];
    for (what, request, status, code) in cases {
        let (status_line, body) = raw(&base, request).await;
        assert!(status_line.starts_with(&format!("HTTP/1.1 {status}")), "{what}: {status_line}");
        let envelope: aex_api::ErrorEnvelope = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: {body}"));
        assert_eq!(envelope.error.code, code, "{what}");
        assert!(!envelope.error.request_id.is_empty(), "{what}");
    }
    // Within the limits, the same request is served.
    let (status_line, _) = raw(&base, get(format!("/items/{}", "a".repeat(8000)), "x-h: v\r\n".into())).await;
    assert!(status_line.starts_with("HTTP/1.1 200"), "{status_line}");
}
