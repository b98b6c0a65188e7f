//! Gateway overhead, in one run on one machine: 64 concurrent clients on `GET /v1/balance`
//!
//! (a) directly against the service, with a service token;
//! (b) through the real gateway: API-key authentication (cached), the Redis rate limit (one
//!     script round trip, a limit high enough never to refuse) and the proxy (a fresh
//!     service token per request, the resilient HTTP client).
//!
//! Two upstreams: the real settlement service (its balance read touches Postgres), and a
//! minimal axum app that only verifies the service token — the cheapest possible service, so
//! the gateway's whole overhead shows. Prints requests/s and p50/p99 latency and the ratio
//! (through the gateway / direct) for each; target >= 60 % against the real service.
//! Run with `eval "$(deploy/local/stack env)" && cargo bench -p aex-gateway --bench proxy_throughput`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_arithmetic)]

use aex_common::auth::ServiceTokens;
use aex_common::secret::Secret;
use aex_testkit::BenchRun;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use serde_json::json;
use std::time::{Duration, Instant};

const CLIENTS: usize = 64;
const RUN: Duration = Duration::from_secs(8);
const WARM_UP: Duration = Duration::from_secs(1);

/// The service: verifies the service token, answers the tenant's balance.
async fn balance(State(tokens): State<ServiceTokens>, headers: HeaderMap) -> Response {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match bearer.and_then(|token| tokens.verify(token).ok()) {
        Some(claims) => axum::Json(json!({
            "tenant_id": claims.tenant_id,
            "balance": "0.00",
            "balance_minor": 0,
            "available_minor": 0,
            "held_minor": 0,
            "currency": "USD",
        }))
        .into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// `CLIENTS` loops sending `GET url` with `header` for `RUN` (after a warm-up).
async fn load(name: &'static str, url: String, header: (&'static str, String)) -> BenchRun {
    let client = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS).build().unwrap();
    let run = |duration: Duration| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (client, url, header) = (client.clone(), url.clone(), header.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut errors = 0;
                    let deadline = Instant::now() + duration;
                    while Instant::now() < deadline {
                        let started = Instant::now();
                        let ok = match client.get(&url).header(header.0, &header.1).send().await {
                            Ok(response) => response.status() == 200 && response.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                        if ok {
                            latencies.push(started.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect();
        async move {
            let started = Instant::now();
            let mut all = Vec::new();
            let mut errors = 0;
            for handle in handles {
                let (latencies, failed) = handle.await.unwrap();
                all.extend(latencies);
                errors += failed;
            }
            (all, errors, started.elapsed())
        }
    };
    let _ = run(WARM_UP).await;
    let (latencies, errors, elapsed) = run(RUN).await;
    BenchRun { name: name.to_string(), operations: latencies.len(), errors, elapsed, latencies }
}

#[tokio::main]
async fn main() {
    aex_testkit::init();
    let settlement_sut = aex_testkit::ServiceUnderTest::new("aex-settlement", aex_settlement::SCHEMA);
    let mut sut = aex_testkit::ServiceUnderTest::new("aex-gateway", aex_gateway::SCHEMA);
    sut.token_secret = settlement_sut.token_secret.clone();
    let tokens = ServiceTokens::new(&Secret::new(sut.token_secret.clone()), Duration::from_secs(600)).unwrap();
    let mut settlement_args = settlement_sut.args();
    if let Some(at) = settlement_args.iter().position(|a| a == "--db-max-connections") {
        settlement_args[at + 1] = "32".into();
    }
    let settlement_config = aex_settlement::Config::try_parse_from(settlement_args).unwrap();
    let settlement =
        aex_testkit::spawn_service(|listener, shutdown| aex_settlement::run(settlement_config, listener, shutdown))
            .await;

    let service = axum::Router::new().route("/v1/providers", axum::routing::get(balance)).with_state(tokens.clone());
    let (listener, addr) = aex_testkit::listener().await;
    tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
    let service_url = format!("http://{addr}");

    let admin_key = format!("aexk_{}", "ab".repeat(32));
    let mut args = sut.args();
    let prefix = format!("aex-bench-{}:", aex_testkit::unique_suffix());
    let jwt_secret = "bench-jwt-secret-bench-jwt-secret-0123456789";
    args.extend(
        [
            "--redis-url",
            &aex_testkit::redis_url(),
            "--redis-key-prefix",
            &prefix,
            "--jwt-secret",
            jwt_secret,
            "--admin-api-key",
            &admin_key,
            "--settlement-url",
            &settlement.base_url,
            "--work-publisher-url",
            &service_url,
            "--rate-limit-per-minute",
            "1000000000",
            "--rate-limit-burst",
            "1000000",
        ]
        .map(str::to_string),
    );
    let config = aex_gateway::Config::try_parse_from(args).unwrap();
    let gateway = aex_testkit::spawn_service(|listener, shutdown| aex_gateway::run(config, listener, shutdown)).await;

    let created: serde_json::Value = gateway
        .http
        .post(gateway.url("/v1/tenants"))
        .header("x-api-key", &admin_key)
        .json(&json!({"name": "Bench", "type": "REQUESTOR"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant = created["id"].as_str().unwrap().to_string();
    let key = created["api_key"]["key"].as_str().unwrap().to_string();
    let token = tokens.mint("gateway", Some(&tenant), &["read".to_string()], Some("bench")).unwrap();

    println!("gateway proxy throughput: {CLIENTS} clients, {} s each", RUN.as_secs());
    let bearer = ("authorization", format!("Bearer {token}"));
    let direct = load("(a) settlement GET /v1/balance, direct", settlement.url("/v1/balance"), bearer.clone()).await;
    direct.print("requests");
    let through =
        load("(b) the same through the gateway", gateway.url("/v1/balance"), ("x-api-key", key.clone())).await;
    through.print("requests");
    println!("  ratio (b)/(a): {:.0} % (target >= 60 %)", 100.0 * through.per_second() / direct.per_second());
    // The minimal upstream answers GET /v1/providers here (routed to work-publisher).
    let bare = load("(c) token-checking stub, direct", format!("{service_url}/v1/providers"), bearer).await;
    bare.print("requests");
    let bare_through = load("(d) the same through the gateway", gateway.url("/v1/providers"), ("x-api-key", key)).await;
    bare_through.print("requests");
    println!(
        "  ratio (d)/(c): {:.0} % (the gateway's whole overhead, against a service that does nothing)",
        100.0 * bare_through.per_second() / bare.per_second()
    );
    gateway.stop().await;
    settlement.stop().await;
}
