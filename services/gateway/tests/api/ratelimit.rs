//! Rate limits: one exact budget shared by replicas through Redis, the money routes' own
//! bucket, the cold-start halving, and what happens when Redis goes away and comes back.

use crate::{Cred, Gateway, request};
use aex_testkit::RedisServer;
use aex_testkit::RunningService;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<u64> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
    }
}

async fn send(service: &RunningService, method: &str, path: &str, key: &str, body: Option<Value>) -> Answer {
    let response = request(service, method, path, Cred::ApiKey(key), body).send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null);
    Answer { status, headers, body }
}

/// Fires `n` requests at once, alternating between `services`.
async fn burst(services: &[&RunningService], n: usize, method: &str, path: &str, key: &str) -> Vec<Answer> {
    let body = (method == "POST").then(|| json!({"amount": "1.00"}));
    futures::future::join_all((0..n).map(|i| send(services[i % services.len()], method, path, key, body.clone()))).await
}

/// Asserts exactly `admitted` answers are 200, the rest 429 `RATE_LIMITED` with Retry-After,
/// and every answer carries consistent `X-RateLimit-*` headers for a bucket of `limit`.
#[track_caller]
fn assert_exact_budget(answers: &[Answer], admitted: u64, limit: u64) {
    let mut remaining: Vec<u64> = Vec::new();
    for answer in answers {
        assert_eq!(answer.header("x-ratelimit-limit"), Some(limit), "{:?}", answer.headers);
        assert!(answer.header("x-ratelimit-reset").is_some());
        match answer.status {
            StatusCode::OK => remaining.push(answer.header("x-ratelimit-remaining").unwrap()),
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(answer.body["error"]["code"], "RATE_LIMITED", "{}", answer.body);
                assert_eq!(answer.header("x-ratelimit-remaining"), Some(0));
                assert!(answer.header("retry-after").unwrap() >= 1);
            }
            other => panic!("unexpected {other}: {}", answer.body),
        }
    }
    remaining.sort();
    let expected: Vec<u64> = (0..admitted).collect();
    assert_eq!(remaining, expected, "each admitted request took one place in one shared bucket");
}

#[tokio::test]
async fn two_instances_share_one_exact_budget() {
    let gw = crate::start_gateway_with(&["--rate-limit-cold-start-seconds", "0"]).await;
    let second = crate::spawn(crate::with_flags(gw.env.args(&gw.sut), &["--rate-limit-cold-start-seconds", "0"])).await;
    let (tenant, key) = gw.create_tenant("REQUESTOR").await;
    gw.set_limits(&tenant, Some(10), Some(0), None).await;

    let answers = burst(&[&gw.service, &second], 40, "GET", "/v1/balance", &key).await;
    assert_exact_budget(&answers, 10, 10);
    assert_eq!(gw.env.upstream("settlement").calls(), 10, "refused requests never reach the service");

    // Every /v1 response of an authenticated caller carries the headers, the gateway's own too.
    let own = send(&second, "GET", &format!("/v1/tenants/{tenant}"), &key, None).await;
    assert_eq!(own.status, 429);
    assert_eq!(own.header("x-ratelimit-limit"), Some(10));
    // Another tenant has its own bucket.
    let (_, other) = gw.create_tenant("REQUESTOR").await;
    let fresh = send(&gw.service, "GET", "/v1/balance", &other, None).await;
    assert_eq!(fresh.status, 200);
    assert_eq!(fresh.header("x-ratelimit-limit"), Some(1050), "the default: 1000 a minute plus a burst of 50");
    assert_eq!(fresh.header("x-ratelimit-remaining"), Some(1049));
    second.stop().await;
}

#[tokio::test]
async fn money_routes_have_their_own_tighter_budget() {
    let gw =
        crate::start_gateway_with(&["--rate-limit-cold-start-seconds", "0", "--money-rate-limit-burst", "0"]).await;
    let (tenant, key) = gw.create_tenant("REQUESTOR").await;
    gw.set_limits(&tenant, Some(100), Some(0), Some(3)).await;

    let answers = burst(&[&gw.service], 8, "POST", "/v1/deposits", &key).await;
    assert_exact_budget(&answers, 3, 3);
    // The general bucket was charged by the three admitted deposits only.
    let read = send(&gw.service, "GET", "/v1/balance", &key, None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.header("x-ratelimit-limit"), Some(100));
    assert_eq!(read.header("x-ratelimit-remaining"), Some(100 - 3 - 1));
    // Awards are money routes too.
    let award = send(&gw.service, "POST", "/v1/work/work_1/award", &key, Some(json!({"bid_id": "bid_1"}))).await;
    assert_eq!(award.status, 429);
    assert_eq!(award.header("x-ratelimit-limit"), Some(3));
}

#[tokio::test]
async fn a_fresh_store_enforces_half_the_limit() {
    let gw = crate::start_gateway().await;
    let (tenant, key) = gw.create_tenant("REQUESTOR").await;
    gw.set_limits(&tenant, Some(10), Some(0), None).await;

    let answers = burst(&[&gw.service], 20, "GET", "/v1/balance", &key).await;
    assert_exact_budget(&answers, 5, 5);

    // The first-seen mark that starts the cold-start window lives in this test's namespace.
    let client = redis::Client::open(aex_testkit::redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let first_seen: Option<u64> = redis::cmd("GET")
        .arg(format!("{}ratelimit:first_seen", gw.env.redis_prefix))
        .query_async(&mut connection)
        .await
        .unwrap();
    let now_us = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as u64;
    let first_seen = first_seen.expect("first-seen time recorded");
    assert!(now_us.abs_diff(first_seen) < 60_000_000, "recorded just now");
}

#[tokio::test]
async fn redis_outage_reads_fall_back_and_money_fails_closed() {
    let mut redis = RedisServer::start();
    let redis_url = redis.url();
    let gw: Gateway = crate::start_gateway_with(&["--redis-url", &redis_url]).await;
    let (tenant, key) = gw.create_tenant("REQUESTOR").await;
    gw.set_limits(&tenant, Some(10), Some(0), None).await;
    let read = send(&gw.service, "GET", "/v1/balance", &key, None).await;
    assert_eq!((read.status, read.header("x-ratelimit-limit")), (StatusCode::OK, Some(5)), "cold start: half");

    redis.stop();
    // Reads: the in-process limiter, with the tenant's full quota on this replica.
    let answers = burst(&[&gw.service], 15, "GET", "/v1/balance", &key).await;
    assert_exact_budget(&answers, 10, 10);
    // Money: closed, at once.
    let started = Instant::now();
    let deposit = send(&gw.service, "POST", "/v1/deposits", &key, Some(json!({"amount": "1.00"}))).await;
    assert!(started.elapsed() < Duration::from_millis(500), "no hang: {:?}", started.elapsed());
    assert_eq!(deposit.status, 503, "{}", deposit.body);
    assert_eq!(deposit.body["error"]["code"], "RATE_LIMIT_UNAVAILABLE");
    assert!(deposit.header("retry-after").unwrap() >= 1);
    let deposits_seen = gw.env.upstream("settlement").calls();
    let metrics = gw.service.http.get(gw.service.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("aex_ratelimit_fallback_total"), "the fallback is metered");

    // Back: the restarted (empty) Redis decides again, money flows.
    redis.restart();
    let deposit = aex_testkit::eventually(Duration::from_secs(10), "money routes to work again", || async {
        let answer = send(&gw.service, "POST", "/v1/deposits", &key, Some(json!({"amount": "1.00"}))).await;
        (answer.status == 200).then_some(answer)
    })
    .await;
    assert_eq!(deposit.header("x-ratelimit-limit"), Some(5), "a fresh Redis starts cold");
    assert_eq!(gw.env.upstream("settlement").calls(), deposits_seen + 1);
}

/// Fires `n` unauthenticated `GET /v1/info` at once, each with `forwarded` as X-Forwarded-For.
async fn anonymous_burst(service: &RunningService, n: usize, forwarded: &str) -> Vec<Answer> {
    futures::future::join_all((0..n).map(|_| async {
        let response = request(service, "GET", "/v1/info", Cred::None, None)
            .header("x-forwarded-for", forwarded)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null);
        Answer { status, headers, body }
    }))
    .await
}

#[tokio::test]
async fn unauthenticated_routes_are_limited_per_client_address_behind_a_trusted_proxy() {
    let limits = [
        "--rate-limit-cold-start-seconds",
        "0",
        "--anonymous-rate-limit-per-minute",
        "10",
        "--anonymous-rate-limit-burst",
        "0",
    ];
    let mut behind_proxy = limits.to_vec();
    behind_proxy.extend(["--trusted-proxy-hops", "1"]);
    let gw = crate::start_gateway_with(&behind_proxy).await;
    // The proxy appended 10.0.0.1: whatever the client put before it does not matter.
    let first = anonymous_burst(&gw.service, 25, "6.6.6.6, 10.0.0.1").await;
    assert_exact_budget(&first, 10, 10);
    // Another client behind the same proxy has its own bucket.
    let other = anonymous_burst(&gw.service, 3, "10.0.0.2").await;
    assert!(other.iter().all(|a| a.status == StatusCode::OK), "a second address is not charged for the first");
    // Token exchange is unauthenticated too: an address cannot guess keys without limit.
    let token = request(&gw.service, "POST", "/v1/auth/token", Cred::None, Some(json!({"api_key": "aexk_nope"})))
        .header("x-forwarded-for", "10.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::TOO_MANY_REQUESTS);

    // Without trusted proxies the header is ignored: forging it escapes nothing.
    let direct = crate::start_gateway_with(&limits).await;
    let forged: Vec<Answer> = futures::future::join_all((0..25).map(|i| {
        let service = &direct.service;
        async move {
            let response = request(service, "GET", "/v1/info", Cred::None, None)
                .header("x-forwarded-for", format!("10.1.0.{i}"))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            Answer { status, headers, body: Value::Null }
        }
    }))
    .await;
    let admitted = forged.iter().filter(|a| a.status == StatusCode::OK).count();
    assert_eq!(admitted, 10, "every request counted against the one peer address");
    direct.service.stop().await;
    gw.service.stop().await;
}

#[tokio::test]
async fn the_operator_sets_quotas_that_apply_at_once_and_refuses_what_is_out_of_range() {
    let gw = crate::start_gateway_with(&["--rate-limit-cold-start-seconds", "0"]).await;
    let (tenant, key) = gw.create_tenant("REQUESTOR").await;
    let path = format!("/v1/tenants/{tenant}/quotas");
    let before = send(&gw.service, "GET", "/v1/balance", &key, None).await;
    assert_eq!(before.header("x-ratelimit-limit"), Some(1050), "the default before any override");

    // Only the operator sets quotas; a tenant cannot raise its own.
    let (status, body) = gw.call("POST", &path, Cred::ApiKey(&key), Some(json!({"requests_per_minute": 5}))).await;
    assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (403, Some("INSUFFICIENT_SCOPE")), "{body}");
    // Out of range, wrong types and unknown fields are refused, never clamped or dropped.
    for refused in [
        json!({"requests_per_minute": 0}),
        json!({"burst": -1}),
        json!({"money_requests_per_minute": 10_000_001}),
        json!({"requests_per_minute": "5"}),
        json!({"requests_per_minute": 5, "tenant_id": "tenant_other"}),
    ] {
        let (status, body) = gw.call("POST", &path, gw.admin(), Some(refused.clone())).await;
        assert_eq!(status, 400, "{refused} -> {body}");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
    let (status, body) =
        gw.call("POST", "/v1/tenants/tenant_nobody/quotas", gw.admin(), Some(json!({"burst": 1}))).await;
    assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (404, Some("NOT_FOUND")), "{body}");
    let unchanged = send(&gw.service, "GET", "/v1/balance", &key, None).await;
    assert_eq!(unchanged.header("x-ratelimit-limit"), Some(1050), "nothing refused took effect");

    gw.set_limits(&tenant, Some(600_000), Some(1_000), None).await;
    let raised = send(&gw.service, "GET", "/v1/balance", &key, None).await;
    assert_eq!(raised.header("x-ratelimit-limit"), Some(601_000), "the next request uses the new quota");
    // Null returns to the default.
    gw.set_limits(&tenant, None, None, None).await;
    let reset = send(&gw.service, "GET", "/v1/balance", &key, None).await;
    assert_eq!(reset.header("x-ratelimit-limit"), Some(1050));
}
