//! Idempotency: a POST with an `Idempotency-Key` runs upstream at most once per tenant, route
//! and key; repeats get the first response, a different body 422, a concurrent duplicate 409.

use crate::{Cred, assert_error, request};
use aex_testkit::RunningService;
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Answer {
    status: StatusCode,
    replayed: bool,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

async fn post(service: &RunningService, path: &str, key: &str, idempotency_key: &str, body: Value) -> Answer {
    let response = request(service, "POST", path, Cred::ApiKey(key), Some(body))
        .header("idempotency-key", idempotency_key)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    Answer { status, replayed, text: response.text().await.unwrap() }
}

#[tokio::test]
async fn the_first_response_is_replayed_and_a_different_body_is_refused() {
    let gw = crate::start_gateway().await;
    let (_, key) = gw.create_tenant("REQUESTOR").await;
    let settlement = gw.env.upstream("settlement");
    let body = json!({"amount": "12.50", "currency": "USD"});

    let first = post(&gw.service, "/v1/deposits", &key, "dep-1", body.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(!first.replayed);
    assert_eq!(first.json()["idempotency_key"], "dep-1", "the key still travels to the service");
    let again = post(&gw.service, "/v1/deposits", &key, "dep-1", body.clone()).await;
    assert_eq!(again.status, first.status);
    assert_eq!(again.text, first.text, "the very same body");
    assert!(again.replayed, "marked Idempotent-Replayed: true");
    assert_eq!(settlement.calls(), 1);

    let other = post(&gw.service, "/v1/deposits", &key, "dep-1", json!({"amount": "99.00"})).await;
    assert_eq!(other.status, 422, "{}", other.text);
    assert_eq!(other.json()["error"]["code"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(settlement.calls(), 1);

    // The key is namespaced by route and by tenant.
    let withdrawal = post(&gw.service, "/v1/withdrawals", &key, "dep-1", body.clone()).await;
    assert_eq!((withdrawal.status, withdrawal.replayed), (StatusCode::OK, false));
    let (_, someone_else) = gw.create_tenant("REQUESTOR").await;
    let theirs = post(&gw.service, "/v1/deposits", &someone_else, "dep-1", body).await;
    assert_eq!((theirs.status, theirs.replayed), (StatusCode::OK, false));
    assert_eq!(settlement.calls(), 3);
}

#[tokio::test]
async fn concurrent_identical_requests_reach_the_service_once() {
    let gw = crate::start_gateway().await;
    let (_, key) = gw.create_tenant("REQUESTOR").await;
    let body = json!({"category": "translation", "budget": {"max_price": "5.00"}});
    // The stand-in answers after a second, so every duplicate arrives while the first runs.
    let path = "/v1/work?delay_ms=1000";
    let answers =
        futures::future::join_all((0..100).map(|_| post(&gw.service, path, &key, "work-once", body.clone()))).await;

    assert_eq!(gw.env.upstream("work-publisher").calls(), 1, "exactly one upstream call");
    let executed = answers.iter().filter(|a| a.status == 200 && !a.replayed).count();
    assert_eq!(executed, 1);
    for answer in answers.iter().filter(|a| a.status != 200) {
        assert_eq!(answer.status, 409, "{}", answer.text);
        assert_eq!(answer.json()["error"]["code"], "REQUEST_IN_PROGRESS");
    }
    assert!(answers.iter().any(|a| a.status == 409), "duplicates in flight are told so");
    let after = post(&gw.service, path, &key, "work-once", body).await;
    assert_eq!((after.status, after.replayed), (StatusCode::OK, true));
    assert_eq!(gw.env.upstream("work-publisher").calls(), 1);
}

#[tokio::test]
async fn a_failed_request_releases_its_key_for_a_retry() {
    let dead = format!("http://127.0.0.1:{}", aex_testkit::free_port());
    let gw = crate::start_gateway_with(&["--certauth-url", &dead, "--http-max-retries", "0"]).await;
    let (_, key) = gw.create_tenant("PROVIDER").await;
    let body = json!({"provider_id": "prov_1", "agent_name": "a"});
    for _ in 0..2 {
        let answer = post(&gw.service, "/v1/certificates/request", &key, "cert-1", body.clone()).await;
        assert_eq!(answer.status, 502, "not 409, not a replay: {}", answer.text);
        assert_eq!(answer.json()["error"]["code"], "BAD_GATEWAY");
    }
}

#[tokio::test]
async fn malformed_keys_are_refused_and_identity_routes_are_never_cached() {
    let gw = crate::start_gateway().await;
    let (_, key) = gw.create_tenant("REQUESTOR").await;
    let answer = post(&gw.service, "/v1/deposits", &key, &"k".repeat(300), json!({"amount": "1.00"})).await;
    assert_error(&(answer.status, answer.json()), 400, "VALIDATION_ERROR");
    assert_eq!(gw.env.upstream("settlement").calls(), 0);

    // Creating tenants returns a secret (the first key): it is never stored for replay.
    let tenant = json!({"name": "Twice", "type": "REQUESTOR"});
    let first = post(&gw.service, "/v1/tenants", &gw.env.admin_key, "tenant-1", tenant.clone()).await;
    let second = post(&gw.service, "/v1/tenants", &gw.env.admin_key, "tenant-1", tenant).await;
    assert_eq!((first.status, second.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert!(!second.replayed);
    assert_ne!(first.json()["id"], second.json()["id"]);
}
