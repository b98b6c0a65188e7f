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

    // Creating tenants returns a secret (the first key): it is never stored in Redis; the
    // repeat is answered from the gateway's Postgres record, without the secret.
    let tenant = json!({"name": "Twice", "type": "REQUESTOR"});
    let first = post(&gw.service, "/v1/tenants", &gw.env.admin_key, "tenant-1", tenant.clone()).await;
    let second = post(&gw.service, "/v1/tenants", &gw.env.admin_key, "tenant-1", tenant).await;
    assert_eq!((first.status, second.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert!(!first.replayed && second.replayed);
    assert_eq!(first.json()["id"], second.json()["id"]);
    let secret = first.json()["api_key"]["key"].as_str().unwrap().to_string();
    assert_no_secret_in_redis(&gw.env.redis_prefix, &secret).await;
}

/// Nothing under the test's Redis prefix holds `secret`, or is an idempotency record at all.
async fn assert_no_secret_in_redis(prefix: &str, secret: &str) {
    let client = redis::Client::open(aex_testkit::redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut connection).await.unwrap();
    for key in keys {
        assert!(!key.contains("idempotency"), "{key}");
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut connection).await.unwrap();
        let dump: Vec<u8> = match kind.as_str() {
            "string" => redis::cmd("GET").arg(&key).query_async(&mut connection).await.unwrap(),
            _ => Vec::new(),
        };
        assert!(!String::from_utf8_lossy(&dump).contains(secret), "{key}");
    }
}

/// Fires `n` identical creates with one `Idempotency-Key` at once.
async fn concurrent_creates(service: &RunningService, path: &str, key: &str, n: usize, body: Value) -> Vec<Answer> {
    futures::future::join_all((0..n).map(|_| post(service, path, key, "create-once", body.clone()))).await
}

/// Every answer is 201 with the same id at `id_of`; exactly one carries the secret at
/// `key_of`, the others `null` with a note. Returns the id and the secret.
fn one_creation(answers: &[Answer], id_of: &str, key_of: &str) -> (String, String) {
    let bodies: Vec<Value> = answers.iter().map(Answer::json).collect();
    for answer in answers {
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    }
    let id = bodies[0].pointer(id_of).and_then(Value::as_str).unwrap().to_string();
    assert!(bodies.iter().all(|b| b.pointer(id_of).and_then(Value::as_str) == Some(id.as_str())), "one id");
    let secrets: Vec<&str> = bodies.iter().filter_map(|b| b.pointer(key_of).and_then(Value::as_str)).collect();
    assert_eq!(secrets.len(), 1, "exactly one answer shows the secret");
    let first = answers.iter().zip(&bodies).find(|(_, b)| b.pointer(key_of).is_some_and(Value::is_string)).unwrap();
    assert!(!first.0.replayed, "the first answer is not a replay");
    let note_of = key_of.replace("/key", "/key_note");
    for (answer, body) in answers.iter().zip(&bodies).filter(|(_, b)| b.pointer(key_of) == Some(&Value::Null)) {
        assert!(answer.replayed, "{}", answer.text);
        assert!(body.pointer(&note_of).and_then(Value::as_str).unwrap().contains("shown only in the first answer"));
    }
    (id, secrets[0].to_string())
}

#[tokio::test]
async fn concurrent_tenant_creates_with_one_key_make_one_tenant() {
    let gw = crate::start_gateway().await;
    let pool = gw.pool().await;
    let body = json!({"name": "Exactly Once Ltd", "type": "BOTH", "metadata": {"a": 1, "b": 2}});
    let answers = concurrent_creates(&gw.service, "/v1/tenants", &gw.env.admin_key, 50, body).await;
    let (tenant, secret) = one_creation(&answers, "/id", "/api_key/key");
    let tenants: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants WHERE name = 'Exactly Once Ltd'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(tenants, 1);
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys WHERE tenant_id = $1")
        .bind(&tenant)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(keys, 1);
    assert_eq!(crate::call(&gw.service, "GET", "/v1/balance", Cred::ApiKey(&secret), None).await.0, 200);
    assert_no_secret_in_redis(&gw.env.redis_prefix, &secret).await;

    // The same body in another field order and spacing is the same request.
    let reordered = post(
        &gw.service,
        "/v1/tenants",
        &gw.env.admin_key,
        "create-once",
        json!({"metadata": {"b": 2, "a": 1}, "type": "BOTH", "name": "Exactly Once Ltd"}),
    )
    .await;
    assert_eq!((reordered.status, reordered.replayed), (StatusCode::CREATED, true), "{}", reordered.text);
    assert_eq!(reordered.json()["id"], tenant.as_str());
    // Another body under the same key is refused and creates nothing.
    let other = json!({"name": "Someone Else", "type": "BOTH"});
    let reused = post(&gw.service, "/v1/tenants", &gw.env.admin_key, "create-once", other).await;
    assert_error(&(reused.status, reused.json()), 422, "IDEMPOTENCY_KEY_REUSED");
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tenants WHERE name = 'Someone Else'").fetch_one(&pool).await.unwrap();
    assert_eq!(total, 0);
}

#[tokio::test]
async fn concurrent_key_creates_with_one_key_make_one_key() {
    let gw = crate::start_gateway().await;
    let pool = gw.pool().await;
    let (tenant, owner) = gw.create_tenant("BOTH").await;
    let path = format!("/v1/tenants/{tenant}/api-keys");
    let body = json!({"name": "ci deploy", "scopes": ["read"]});
    let answers = concurrent_creates(&gw.service, &path, &owner, 50, body.clone()).await;
    let (key_id, secret) = one_creation(&answers, "/id", "/key");
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys WHERE tenant_id = $1 AND name = 'ci deploy'")
        .bind(&tenant)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(keys, 1);
    let replay = answers.iter().map(Answer::json).find(|b| b["key"].is_null()).unwrap();
    assert_eq!(replay["prefix"], &secret[..12]);
    assert_eq!(replay["scopes"], json!(["read"]));
    assert_eq!(crate::call(&gw.service, "GET", "/v1/balance", Cred::ApiKey(&secret), None).await.0, 200);
    assert_no_secret_in_redis(&gw.env.redis_prefix, &secret).await;

    let reused = post(
        &gw.service,
        &path,
        &owner,
        "create-once",
        json!({"name": "ci deploy", "scopes": ["read", "work:submit"]}),
    )
    .await;
    assert_error(&(reused.status, reused.json()), 422, "IDEMPOTENCY_KEY_REUSED");
    // The key is namespaced by the caller and the route: another tenant's same key is its own.
    let (other, other_owner) = gw.create_tenant("BOTH").await;
    let theirs = post(&gw.service, &format!("/v1/tenants/{other}/api-keys"), &other_owner, "create-once", body).await;
    assert_eq!((theirs.status, theirs.replayed), (StatusCode::CREATED, false), "{}", theirs.text);
    assert_ne!(theirs.json()["id"], key_id.as_str());
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM api_keys WHERE name = 'ci deploy'").fetch_one(&pool).await.unwrap();
    assert_eq!(total, 2);
}
