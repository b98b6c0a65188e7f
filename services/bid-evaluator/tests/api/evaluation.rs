//! A closed bid window through the real evaluator: sealed bids from a work-publisher stand-in,
//! trust from a certauth stand-in (both real HTTP servers that verify the service token), the
//! evaluation and its `bids.evaluated` outbox row in Postgres, and the two evaluation routes.

#![allow(clippy::float_arithmetic)]

use aex_common::auth::ServiceTokens;
use aex_common::events::{EventBus, EventEnvelope, NatsArgs};
use aex_common::secret::Secret;
use aex_testkit::{RunningService, ServiceUnderTest};
use async_nats::jetstream::message::PublishMessage;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Parser;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

const WORK_ID: &str = "work_evaltest01";
const OWNER: &str = "ten_owner";

#[derive(Clone)]
struct StandIn {
    tokens: ServiceTokens,
    certauth_up: Arc<AtomicBool>,
    bid_fetches: Arc<AtomicUsize>,
    /// Bid fetches still to refuse with 503 (work-publisher down).
    bid_failures_left: Arc<AtomicUsize>,
    trust_calls: Arc<AtomicUsize>,
}

impl StandIn {
    /// Only the bid-evaluator's own service token is accepted.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|t| self.tokens.verify(t).ok())
            .is_some_and(|claims| claims.sub == "bid-evaluator")
    }
}

fn bid(id: &str, provider: &str, price_minor: i64, confidence: f64, latency: i64, sample: Value, at: &str) -> Value {
    json!({
        "bid_id": id, "work_id": WORK_ID, "provider_id": provider, "provider_tenant_id": format!("ten_{provider}"),
        "price": format!("{}.{:02}", price_minor / 100, price_minor % 100), "price_minor": price_minor,
        "currency": "USD", "price_breakdown": null, "confidence": confidence, "approach": "do it",
        "estimated_latency_ms": latency, "mvp_sample": sample, "sla": {}, "a2a_endpoint": "https://a.example/a2a",
        "expires_at": "2999-01-01T00:00:00Z", "status": "SUBMITTED", "revision": 1, "received_at": at,
    })
}

async fn bids(State(s): State<StandIn>, headers: HeaderMap) -> Response {
    if !s.authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    s.bid_fetches.fetch_add(1, Ordering::SeqCst);
    if s.bid_failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let list = vec![
        bid("bid_a", "prov_a", 5_000, 0.9, 1_000, json!({"url": "https://a.example/sample"}), "2026-01-01T00:00:01Z"),
        bid("bid_b", "prov_b", 3_000, 0.6, 2_000, Value::Null, "2026-01-01T00:00:02Z"),
        bid("bid_c", "prov_c", 12_000, 0.99, 500, Value::Null, "2026-01-01T00:00:03Z"),
    ];
    axum::Json(json!({"work_id": WORK_ID, "work_status": "EVALUATING", "total": list.len(), "bids": list}))
        .into_response()
}

async fn trust(State(s): State<StandIn>, headers: HeaderMap, axum::Json(body): axum::Json<Value>) -> Response {
    if !s.authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    s.trust_calls.fetch_add(1, Ordering::SeqCst);
    if !s.certauth_up.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let asked: Vec<String> = serde_json::from_value(body["provider_ids"].clone()).unwrap();
    let mut providers = serde_json::Map::new();
    if asked.iter().any(|p| p == "prov_a") {
        providers.insert(
            "prov_a".into(),
            json!({"score": 0.9, "trust_score": 0.9, "tier": "GOLD", "contracts": 10, "flags": [],
                   "certified_capabilities": [{"category": "translation", "capability": "translate"}]}),
        );
    }
    if asked.iter().any(|p| p == "prov_b") {
        providers.insert(
            "prov_b".into(),
            json!({"score": 0.4, "trust_score": 0.4, "tier": "BRONZE", "contracts": 2, "flags": [],
                   "certified_capabilities": []}),
        );
    }
    let unknown: Vec<&String> = asked.iter().filter(|p| !providers.contains_key(p.as_str())).collect();
    axum::Json(json!({"providers": providers, "unknown": unknown})).into_response()
}

struct Harness {
    service: RunningService,
    sut: ServiceUnderTest,
    tokens: ServiceTokens,
    stand_in: StandIn,
}

async fn start() -> Harness {
    let sut = ServiceUnderTest::new("aex-bid-evaluator", aex_bid_evaluator::SCHEMA);
    let tokens = ServiceTokens::new(&Secret::new(sut.token_secret.clone()), Duration::from_secs(60)).unwrap();
    let stand_in = StandIn {
        tokens: tokens.clone(),
        certauth_up: Arc::new(AtomicBool::new(true)),
        bid_fetches: Arc::new(AtomicUsize::new(0)),
        bid_failures_left: Arc::new(AtomicUsize::new(0)),
        trust_calls: Arc::new(AtomicUsize::new(0)),
    };
    let app = Router::new()
        .route("/internal/v1/work/{id}/bids", get(bids))
        .route("/internal/v1/providers/trust", post(trust))
        .with_state(stand_in.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = format!("http://{addr}");
    let mut args = sut.args();
    args.extend(
        [
            "--work-publisher-url",
            &url,
            "--certauth-url",
            &url,
            "--http-request-timeout",
            "1s",
            "--http-breaker-open-duration",
            "100ms",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let config = aex_bid_evaluator::Config::try_parse_from(args).unwrap();
    let service =
        aex_testkit::spawn_service(|listener, shutdown| aex_bid_evaluator::run(config, listener, shutdown)).await;
    Harness { service, sut, tokens, stand_in }
}

impl Harness {
    async fn bus(&self) -> EventBus {
        let args = NatsArgs {
            nats_url: self.sut.nats_url.clone(),
            nats_namespace: self.sut.namespace.clone(),
            nats_stream_replicas: 1,
        };
        let bus = EventBus::connect(&args, "bid-evaluator-tests").await.unwrap();
        // The service creates the stream and its consumer; creating it here as well would race
        // the service's own stream update.
        let stream = bus.stream_name("WORK");
        aex_testkit::eventually(Duration::from_secs(20), "the evaluator's consumer", || async {
            let stream = bus.jetstream().get_stream(&stream).await.ok()?;
            stream.consumer_info("bid-evaluator-window-closed").await.ok().map(|_| ())
        })
        .await;
        bus
    }

    async fn publish_close(&self, bus: &EventBus, event_id: &str, msg_id: &str) {
        let envelope = EventEnvelope {
            event_id: event_id.to_string(),
            event_type: aex_api::events::WORK_BID_WINDOW_CLOSED.to_string(),
            schema_version: 1,
            occurred_at: aex_types::Timestamp::now(),
            source: "work-publisher".into(),
            tenant_id: Some(OWNER.into()),
            traceparent: None,
            data: aex_api::events::WorkBidWindowClosed {
                work_id: WORK_ID.into(),
                consumer_tenant_id: OWNER.into(),
                category: "translation".into(),
                currency: "USD".into(),
                max_price: "100.00".into(),
                max_price_minor: 10_000,
                max_cpa_bonus_minor: None,
                bid_strategy: "balanced".into(),
                constraints: json!({"max_latency_ms": 4000, "min_trust_tier": null, "required_capabilities": null}),
                auto_award: true,
                bid_count: 3,
                closed_at: "2026-01-01T00:01:00Z".into(),
            },
        };
        let body = serde_json::to_vec(&envelope).unwrap();
        let subject = bus.subject(aex_api::events::WORK_BID_WINDOW_CLOSED);
        bus.jetstream()
            .send_publish(subject, PublishMessage::build().payload(body.into()).message_id(msg_id))
            .await
            .unwrap()
            .await
            .unwrap();
    }

    fn tenant_token(&self, tenant: &str) -> String {
        self.tokens.mint("gateway", Some(tenant), &[], None).unwrap()
    }

    async fn get_evaluation(&self, tenant: &str) -> (StatusCode, Value) {
        let response = self
            .service
            .http
            .get(self.service.url(&format!("/v1/work/{WORK_ID}/evaluation")))
            .bearer_auth(self.tenant_token(tenant))
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn evaluation_count(&self) -> i64 {
        let pool = self.sut.pool().await;
        sqlx::query_scalar("SELECT count(*) FROM evaluations WHERE work_id = $1")
            .bind(WORK_ID)
            .fetch_one(&pool)
            .await
            .unwrap()
    }

    async fn wait_for_evaluations(&self, n: i64) {
        aex_testkit::eventually(Duration::from_secs(20), "evaluation stored", || async {
            (self.evaluation_count().await >= n).then_some(())
        })
        .await;
    }
}

fn close(actual: &Value, expected: f64) {
    let got = actual.as_f64().unwrap_or_else(|| panic!("expected a number, got {actual}"));
    assert!((got - expected).abs() < 1e-6, "expected {expected}, got {got}");
}

fn ranked_ids(body: &Value) -> Vec<String> {
    body["ranked_bids"].as_array().unwrap().iter().map(|b| b["bid_id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_closed_window_is_evaluated_once_stored_published_and_shown_to_its_owner_only() {
    let h = start().await;
    let bus = h.bus().await;
    h.publish_close(&bus, "evt_close_1", "msg-0").await;
    h.wait_for_evaluations(1).await;

    let (status, body) = h.get_evaluation(OWNER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["work_id"], WORK_ID);
    assert_eq!(body["strategy"], "balanced");
    assert_eq!(body["total_bids"], 3);
    assert_eq!(body["valid_bids"], 2);
    assert_eq!(ranked_ids(&body), vec!["bid_a", "bid_b"]);
    assert_eq!(body["ranked_bids"][0]["rank"], 1);
    assert_eq!(body["ranked_bids"][1]["rank"], 2);
    assert_eq!(body["ranked_bids"][0]["provider_id"], "prov_a");
    // Balanced: 0.25·0.5 + 0.25·0.9 + 0.15·0.9 + 0.10·0.8 + 0.10·0.75 + 0.15·1.
    close(&body["ranked_bids"][0]["total_score"], 0.79);
    close(&body["ranked_bids"][0]["scores"]["trust"], 0.9);
    close(&body["ranked_bids"][0]["scores"]["certification"], 1.0);
    // 0.25·0.7 + 0.25·0.4 + 0.15·0.6 + 0.10·0.5 + 0.10·0.5 + 0.15·0.
    close(&body["ranked_bids"][1]["total_score"], 0.465);
    assert_eq!(
        body["disqualified_bids"],
        json!([{"bid_id": "bid_c", "provider_id": "prov_c", "reason": "OVER_BUDGET"}])
    );
    assert_eq!(body["degraded"], json!([]));
    assert!(body["evaluation_id"].as_str().unwrap().starts_with("eval"));

    // The outbox row, in the evaluation's transaction.
    let pool = h.sut.pool().await;
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar("SELECT payload FROM outbox WHERE subject = 'bids.evaluated'")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(payloads.len(), 1);
    let event: Value = serde_json::from_slice(&payloads[0]).unwrap();
    assert_eq!(event["tenant_id"], OWNER);
    let data = &event["data"];
    assert_eq!(data["work_id"], WORK_ID);
    assert_eq!(data["evaluation_id"], body["evaluation_id"]);
    assert_eq!(data["auto_award"], true);
    assert_eq!(data["strategy"], "balanced");
    assert_eq!(data["ranking"][0]["bid_id"], "bid_a");
    assert_eq!(data["ranking"][0]["provider_id"], "prov_a");
    assert_eq!(data["ranking"][0]["rank"], 1);
    assert_eq!(data["ranking"][1]["bid_id"], "bid_b");
    assert_eq!(data["degraded"], json!([]));

    // Another tenant cannot tell the evaluation exists.
    let (status, body) = h.get_evaluation("ten_other").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    h.service.stop().await;
}

#[tokio::test]
async fn the_same_close_event_delivered_a_hundred_times_is_evaluated_once() {
    let h = start().await;
    let bus = h.bus().await;
    for n in 0..100 {
        h.publish_close(&bus, "evt_close_dup", &format!("msg-{n}")).await;
    }
    h.wait_for_evaluations(1).await;
    // Let every delivery be processed, then nothing more may appear.
    let pool = h.sut.pool().await;
    aex_testkit::eventually(Duration::from_secs(30), "all deliveries handled", || async {
        let info = bus
            .jetstream()
            .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(
                "bid-evaluator-window-closed",
                bus.stream_name("WORK"),
            )
            .await
            .ok()?
            .info()
            .await
            .ok()?
            .clone();
        (info.num_pending == 0 && info.num_ack_pending == 0 && info.ack_floor.stream_sequence >= 100).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.evaluation_count().await, 1);
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE subject = 'bids.evaluated'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(outbox, 1);
    h.service.stop().await;
}

#[tokio::test]
async fn certauth_down_degrades_trust_and_certification_and_a_new_evaluation_restores_them() {
    let h = start().await;
    h.stand_in.certauth_up.store(false, Ordering::SeqCst);
    let bus = h.bus().await;
    h.publish_close(&bus, "evt_close_degraded", "msg-d").await;
    h.wait_for_evaluations(1).await;
    assert!(h.stand_in.trust_calls.load(Ordering::SeqCst) >= 1);
    assert!(h.stand_in.bid_fetches.load(Ordering::SeqCst) >= 1);

    let (status, body) = h.get_evaluation(OWNER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["degraded"], json!(["trust", "certification"]));
    assert_eq!(ranked_ids(&body), vec!["bid_a", "bid_b"]);
    // Weights renormalized over price, confidence, sample and SLA (0.25 + 0.15 + 0.10 + 0.10).
    close(&body["ranked_bids"][0]["total_score"], (0.125 + 0.135 + 0.08 + 0.075) / 0.6);
    close(&body["ranked_bids"][1]["total_score"], (0.175 + 0.09 + 0.05 + 0.05) / 0.6);
    assert_eq!(body["ranked_bids"][0]["scores"]["trust"], Value::Null);
    assert_eq!(body["ranked_bids"][0]["scores"]["certification"], Value::Null);

    // The data returns: a platform service asks for a new evaluation.
    h.stand_in.certauth_up.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let token = h.tokens.mint("work-publisher", None, &[], None).unwrap();
    let response = h
        .service
        .http
        .post(h.service.url("/internal/v1/evaluate"))
        .bearer_auth(&token)
        .json(&json!({"work_id": WORK_ID}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let fresh: Value = response.json().await.unwrap();
    assert_eq!(fresh["degraded"], json!([]));
    assert_ne!(fresh["evaluation_id"], body["evaluation_id"]);
    assert_eq!(ranked_ids(&fresh), vec!["bid_a", "bid_b"]);
    close(&fresh["ranked_bids"][0]["total_score"], 0.79);
    close(&fresh["ranked_bids"][0]["scores"]["trust"], 0.9);
    close(&fresh["ranked_bids"][1]["total_score"], 0.465);
    assert_eq!(h.evaluation_count().await, 2);

    // The owner now sees the fresh evaluation.
    let (_, latest) = h.get_evaluation(OWNER).await;
    assert_eq!(latest["evaluation_id"], fresh["evaluation_id"]);

    // A forwarded client request may not use the internal route.
    let client_token = h.tenant_token(OWNER);
    let refused = h
        .service
        .http
        .post(h.service.url("/internal/v1/evaluate"))
        .bearer_auth(&client_token)
        .json(&json!({"work_id": WORK_ID}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    h.service.stop().await;
}

#[tokio::test]
async fn work_publisher_down_is_retried_until_the_bids_can_be_fetched() {
    let h = start().await;
    // As many refusals as one delivery's HTTP attempts (1 + 3 retries): the first delivery
    // fails and is redelivered; the breaker (5 failures) stays closed.
    h.stand_in.bid_failures_left.store(4, Ordering::SeqCst);
    let bus = h.bus().await;
    h.publish_close(&bus, "evt_close_retry", "msg-r").await;
    h.wait_for_evaluations(1).await;
    assert!(h.stand_in.bid_fetches.load(Ordering::SeqCst) >= 5);
    let (status, body) = h.get_evaluation(OWNER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ranked_ids(&body), vec!["bid_a", "bid_b"]);
    assert_eq!(h.evaluation_count().await, 1);
    h.service.stop().await;
}
