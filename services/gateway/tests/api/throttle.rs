//! Failed authentication: throttled per client address (and key prefix) through Redis before
//! it reaches Postgres, unknown keys remembered briefly, and created keys usable at once on
//! every replica even where they were presented before.

use crate::{Cred, assert_error, call, random_key, request};
use aex_testkit::RunningService;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// One counter of the instance's `/metrics`, summed over its labels.
async fn metric(service: &RunningService, name: &str) -> u64 {
    let text = service.http.get(service.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' ')))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Waits until the instance receives credential invalidations (its caches are used only then).
async fn wait_listening(service: &RunningService) {
    aex_testkit::eventually(Duration::from_secs(10), "the credential listener", || async {
        let ready: Value = service.http.get(service.url("/health/ready")).send().await.ok()?.json().await.ok()?;
        (ready["dependencies"]["credential_events"]["status"] == "ok").then_some(())
    })
    .await;
}

/// `GET /v1/balance` with `key`, sent through the trusted proxy for `client`.
async fn balance_from(service: &RunningService, client: &str, key: &str) -> (StatusCode, Option<u64>, Value) {
    let response = request(service, "GET", "/v1/balance", Cred::ApiKey(key), None)
        .header("x-forwarded-for", client)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
    (status, retry, serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null))
}

const BUDGET: u64 = 20;

#[tokio::test]
async fn random_keys_from_one_address_are_throttled_before_they_reach_postgres() {
    let gw = crate::start_gateway_with(&["--trusted-proxy-hops", "1"]).await;
    let (_, good) = gw.create_tenant("REQUESTOR").await;
    wait_listening(&gw.service).await;
    let lookups = metric(&gw.service, "aex_gateway_credential_db_lookups_total").await;

    // 500 well-formed random keys from one address, 100 in flight at a time.
    let started = Instant::now();
    let answers: Vec<(StatusCode, Option<u64>, Value)> = futures::stream::iter(0..500)
        .map(|_| {
            let key = random_key();
            let service = &gw.service;
            async move { balance_from(service, "203.0.113.7", &key).await }
        })
        .buffer_unordered(100)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let refused = answers.iter().filter(|a| a.0 == StatusCode::UNAUTHORIZED).count() as u64;
    let throttled: Vec<_> = answers.iter().filter(|a| a.0 == StatusCode::TOO_MANY_REQUESTS).collect();
    assert_eq!(refused + throttled.len() as u64, 500, "only 401 and 429");
    for (_, retry, body) in &throttled {
        assert_eq!(body["error"]["code"], "AUTHENTICATION_THROTTLED", "{body}");
        assert!(body["error"]["request_id"].is_string(), "the error envelope: {body}");
        assert!(retry.is_some_and(|s| (1..=60).contains(&s)), "Retry-After within the window: {retry:?}");
    }
    // The budget is shared through Redis; only if Redis timed out under the burst could this
    // replica's in-process fallback have admitted one more budget.
    assert!((BUDGET..=2 * BUDGET).contains(&refused), "{refused} answered 401");
    let db_lookups = metric(&gw.service, "aex_gateway_credential_db_lookups_total").await - lookups;
    assert!(db_lookups <= refused, "{db_lookups} lookups for {refused} refusals");
    assert!(db_lookups < 500, "{db_lookups}");
    assert!(metric(&gw.service, "aex_gateway_auth_throttled_total").await >= throttled.len() as u64);
    assert_eq!(gw.env.upstream("settlement").calls(), 0);
    println!(
        "500 random keys in {elapsed:?}: {refused} × 401, {} × 429, {db_lookups} database lookups",
        throttled.len()
    );

    // The throttled address is refused with a good key too, without a lookup.
    let before = metric(&gw.service, "aex_gateway_credential_db_lookups_total").await;
    let (status, _, body) = balance_from(&gw.service, "203.0.113.7", &good).await;
    assert_eq!(status, 429, "{body}");
    let token = request(&gw.service, "POST", "/v1/auth/token", Cred::None, Some(json!({"api_key": good})))
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 429, "the token exchange is the same door");
    assert_eq!(metric(&gw.service, "aex_gateway_credential_db_lookups_total").await, before);

    // Another address is not charged for the first one.
    assert_eq!(balance_from(&gw.service, "198.51.100.9", &good).await.0, 200);
    let (status, _, body) = balance_from(&gw.service, "198.51.100.9", &random_key()).await;
    assert_error(&(status, body), 401, "INVALID_API_KEY");
}

#[tokio::test]
async fn an_unknown_key_presented_again_costs_no_lookup() {
    let budgets = ["--auth-failures-per-minute", "1000", "--auth-failures-per-key-prefix-per-minute", "1000"];
    let gw = crate::start_gateway_with(&budgets).await;
    wait_listening(&gw.service).await;
    let unknown = random_key();
    let lookups = metric(&gw.service, "aex_gateway_credential_db_lookups_total").await;
    assert_error(&call(&gw.service, "GET", "/v1/balance", Cred::ApiKey(&unknown), None).await, 401, "INVALID_API_KEY");
    assert_eq!(metric(&gw.service, "aex_gateway_credential_db_lookups_total").await, lookups + 1);
    // A key created by any gateway sharing this database (other tests' too) may cancel
    // remembering one miss, so the probe repeats until five presentations in a row cost none.
    aex_testkit::eventually(Duration::from_secs(5), "repeats of an unknown key to cost no lookup", || async {
        let before = metric(&gw.service, "aex_gateway_credential_db_lookups_total").await;
        for _ in 0..5 {
            let answer = call(&gw.service, "GET", "/v1/balance", Cred::ApiKey(&unknown), None).await;
            assert_error(&answer, 401, "INVALID_API_KEY");
        }
        (metric(&gw.service, "aex_gateway_credential_db_lookups_total").await == before).then_some(())
    })
    .await;
}

#[tokio::test]
async fn good_keys_do_not_spend_the_budget_and_failures_count_across_replicas() {
    let gw = crate::start_gateway_with(&["--trusted-proxy-hops", "1", "--auth-failures-per-minute", "5"]).await;
    let second = crate::spawn(crate::with_flags(
        gw.env.args(&gw.sut),
        &["--trusted-proxy-hops", "1", "--auth-failures-per-minute", "5"],
    ))
    .await;
    let (tenant, owner) = gw.create_tenant("BOTH").await;
    // Twelve good keys, each looked up cold once on each replica: never refused.
    let mut keys = Vec::new();
    for _ in 0..12 {
        keys.push(gw.create_key(&tenant, Cred::ApiKey(&owner), &["read"], json!({})).await.1);
    }
    for key in &keys {
        assert_eq!(balance_from(&gw.service, "192.0.2.1", key).await.0, 200);
        assert_eq!(balance_from(&second, "192.0.2.1", key).await.0, 200);
    }
    // Fifty requests at once with one uncached good key share one lookup and one charge.
    let (_, burst_key) = gw.create_key(&tenant, Cred::ApiKey(&owner), &["read"], json!({})).await;
    let answers = futures::future::join_all((0..50).map(|_| balance_from(&second, "192.0.2.1", &burst_key))).await;
    assert!(answers.iter().all(|a| a.0 == 200), "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
    // Five failures spread over both replicas spend the address's budget on both.
    for n in 0..5 {
        let service = if n % 2 == 0 { &gw.service } else { &second };
        assert_eq!(balance_from(service, "192.0.2.1", &random_key()).await.0, 401, "failure {n}");
    }
    for service in [&gw.service, &second] {
        let (status, retry, body) = balance_from(service, "192.0.2.1", &random_key()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("AUTHENTICATION_THROTTLED"))
        );
        assert!(retry.is_some());
    }
    // Malformed keys and forged tokens are failures too.
    let fresh = "192.0.2.2";
    for _ in 0..5 {
        let response = request(&second, "GET", "/v1/balance", Cred::Bearer("not-a-jwt"), None)
            .header("x-forwarded-for", fresh)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    assert_eq!(balance_from(&gw.service, fresh, "aexk_zz").await.0, 429);
    second.stop().await;
}

#[tokio::test]
async fn a_key_created_after_it_was_presented_works_at_once_on_every_replica() {
    let gw = crate::start_gateway().await;
    wait_listening(&gw.service).await;
    // Someone presents a key that does not exist yet: remembered as unknown.
    let provided = random_key();
    for _ in 0..2 {
        assert_error(
            &call(&gw.service, "GET", "/v1/balance", Cred::ApiKey(&provided), None).await,
            401,
            "INVALID_API_KEY",
        );
    }
    // A second replica starts with it as a provided operator key and stores it.
    let second = crate::spawn(crate::with_flags(gw.env.args(&gw.sut), &["--admin-api-key", &provided])).await;
    let stored = Instant::now();
    aex_testkit::eventually(Duration::from_secs(1), "the first replica to accept the new key", || async {
        (call(&gw.service, "GET", "/v1/balance", Cred::ApiKey(&provided), None).await.0 == 200).then_some(())
    })
    .await;
    assert!(stored.elapsed() < Duration::from_secs(1));
    assert_eq!(call(&second, "GET", "/v1/balance", Cred::ApiKey(&provided), None).await.0, 200);

    // Keys created through the API send their hash to every replica too.
    let mut listener = sqlx::postgres::PgListener::connect_with(&gw.pool().await).await.unwrap();
    listener.listen("aex_gateway_credentials").await.unwrap();
    let (tenant, key) = gw.create_tenant("BOTH").await;
    let (_, created) = gw.create_key(&tenant, Cred::ApiKey(&key), &["read"], json!({})).await;
    let expected = [key.as_str(), created.as_str()].map(aex_gateway::domain::api_key::hash_key);
    let mut seen = Vec::new();
    while !expected.iter().all(|hash| seen.contains(hash)) {
        let notification = tokio::time::timeout(Duration::from_secs(5), listener.recv()).await.unwrap().unwrap();
        seen.push(notification.payload().to_string());
    }
    second.stop().await;
}
