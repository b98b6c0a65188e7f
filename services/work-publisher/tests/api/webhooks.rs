//! Signed webhook notifications: a receiver in the test checks every signature, fails the
//! first attempt and sees the retry; each attempt is recorded and the submission never waits.

use crate::market::{Market, Options};
use crate::{Publisher, tenant, work_body};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Receiver {
    secret: Arc<Mutex<String>>,
    /// (attempt header, signature valid, body) per request, in arrival order.
    seen: Arc<Mutex<Vec<(String, bool, Value)>>>,
    /// Requests to fail before answering 200.
    failures_left: Arc<Mutex<u32>>,
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let secret = r.secret.lock().unwrap().clone();
    let timestamp = header(&headers, "x-webhook-timestamp");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let valid = header(&headers, "x-webhook-signature") == expected
        && !header(&headers, "x-webhook-event-id").is_empty()
        && header(&headers, "x-webhook-event") == "work.submitted";
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.seen.lock().unwrap().push((header(&headers, "x-webhook-attempt"), valid, parsed));
    let mut failures = r.failures_left.lock().unwrap();
    if *failures > 0 {
        *failures -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

async fn start_receiver(receiver: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/hooks", post(receive)).with_state(receiver);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/hooks")
}

#[tokio::test]
async fn deliveries_are_signed_retried_after_a_failure_and_every_attempt_is_recorded() {
    let m = Market::start_with(Options {
        evaluator: false,
        extra: vec!["--webhook-backoff-ms".into(), "100".into()],
        ..Options::default()
    })
    .await;
    let p: &Publisher = &m.p;
    let receiver = Receiver::default();
    *receiver.failures_left.lock().unwrap() = 1;
    let url = start_receiver(receiver.clone()).await;

    let provider_tenant = tenant();
    let provider = p.tenant(&provider_tenant);
    let provider_id = provider.provider(&crate::name("hooked")).await;
    let (status, subscription) = provider
        .post(
            "/v1/subscriptions",
            &json!({ "provider_id": provider_id, "categories": ["translation.*"],
                     "delivery": { "method": "webhook", "webhook_url": url } }),
        )
        .await;
    assert_eq!(status, 201, "{subscription}");
    let secret =
        subscription["delivery"]["webhook_secret"].as_str().expect("a generated secret, shown once").to_string();
    assert!(secret.starts_with("whsec_"));
    *receiver.secret.lock().unwrap() = secret;
    let (_, listed) = provider.get("/v1/subscriptions").await;
    assert!(listed["subscriptions"][0]["delivery"].get("webhook_secret").is_none(), "never shown again: {listed}");

    // A non-matching category is not delivered; the matching one is, even though the
    // receiver fails at first, and the submission answers at once.
    let consumer = p.tenant(&tenant());
    consumer.work("images.resize").await;
    let started = std::time::Instant::now();
    let (status, created) = consumer.post("/v1/work", &work_body("translation.legal")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["providers_notified"], 1);
    assert!(started.elapsed() < Duration::from_secs(2));
    let work_id = created["work_id"].as_str().unwrap().to_string();

    let seen = aex_testkit::eventually(Duration::from_secs(15), "the retried delivery", || async {
        let seen = receiver.seen.lock().unwrap().clone();
        (seen.len() >= 2).then_some(seen)
    })
    .await;
    assert_eq!(seen.len(), 2, "one failure, one success, nothing more");
    assert!(seen.iter().all(|(_, valid, _)| *valid), "every request verifies");
    assert_eq!((seen[0].0.as_str(), seen[1].0.as_str()), ("1", "2"));
    assert_eq!(seen[1].2["work"]["work_id"], work_id.as_str());
    assert_eq!(seen[1].2["provider_id"], provider_id.as_str());
    assert!(seen[1].2["work"].get("bids").is_none());

    let (status, attempts, delivery_status): (String, i32, String) =
        aex_testkit::eventually(Duration::from_secs(10), "the delivery to be recorded as delivered", || async {
            let row: (String, i32, String) = sqlx::query_as(
                "SELECT d.status, d.attempts, coalesce(string_agg(a.status_code::text, ',' ORDER BY a.attempt), '')
                 FROM webhook_deliveries d LEFT JOIN webhook_attempts a ON a.delivery_id = d.id
                 WHERE d.work_id = $1 GROUP BY d.id",
            )
            .bind(&work_id)
            .fetch_one(&p.pool)
            .await
            .ok()?;
            (row.0 == "DELIVERED").then_some(row)
        })
        .await;
    assert_eq!((status.as_str(), attempts, delivery_status.as_str()), ("DELIVERED", 2, "500,200"));
    m.stop().await;
}

#[tokio::test]
async fn a_receiver_that_never_answers_is_given_up_after_the_last_attempt() {
    let m = Market::start_with(Options {
        evaluator: false,
        extra: vec!["--webhook-backoff-ms".into(), "50".into(), "--webhook-max-attempts".into(), "3".into()],
        ..Options::default()
    })
    .await;
    let provider = m.p.tenant(&tenant());
    let provider_id = provider.provider(&crate::name("down")).await;
    let (status, _) = provider
        .post(
            "/v1/subscriptions",
            &json!({ "provider_id": provider_id, "categories": ["translation.*"],
                     "delivery": { "method": "webhook", "webhook_url": "http://127.0.0.1:9/hooks",
                                   "webhook_secret": "0123456789abcdef0123" } }),
        )
        .await;
    assert_eq!(status, 201);
    let work_id = m.p.tenant(&tenant()).work("translation.legal").await;
    let (attempts, errors): (i32, i64) =
        aex_testkit::eventually(Duration::from_secs(15), "the delivery to fail", || async {
            let row: (String, i32, i64) = sqlx::query_as(
                "SELECT d.status, d.attempts, (SELECT count(*) FROM webhook_attempts a WHERE a.delivery_id = d.id
                                           AND a.error IS NOT NULL)
             FROM webhook_deliveries d WHERE d.work_id = $1",
            )
            .bind(&work_id)
            .fetch_one(&m.p.pool)
            .await
            .ok()?;
            (row.0 == "FAILED").then_some((row.1, row.2))
        })
        .await;
    assert_eq!((attempts, errors), (3, 3));
    m.stop().await;
}
