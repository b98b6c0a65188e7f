//! The gateway service through its real HTTP stack, on real Postgres, Redis and NATS, with
//! small real upstream services standing in for the four others.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authentication;
mod idempotency;
mod identity;
mod openapi;
mod operations;
mod ratelimit;
mod routing;
mod throttle;
mod upstream;

use aex_testkit::{RunningService, ServiceUnderTest};
use clap::Parser;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use upstream::Upstream;

/// A running gateway, its environment and its stand-in upstreams.
pub struct Gateway {
    pub service: RunningService,
    pub sut: ServiceUnderTest,
    pub env: TestEnv,
}

/// What every gateway instance of one test shares: secrets, upstreams, operator key.
#[derive(Clone)]
pub struct TestEnv {
    pub admin_key: String,
    pub jwt_secret: String,
    pub upstreams: Vec<Upstream>,
    /// Redis key prefix of this test's gateways: tests sharing the test Redis never share
    /// counters or replayed responses.
    pub redis_prefix: String,
}

impl TestEnv {
    pub async fn new(sut: &ServiceUnderTest) -> Self {
        let mut upstreams = Vec::new();
        for name in ["work-publisher", "bid-evaluator", "settlement", "certauth"] {
            upstreams.push(Upstream::start(name, &sut.token_secret).await);
        }
        let redis_prefix = format!("aex-test-{}:", aex_testkit::unique_suffix());
        Self { admin_key: random_key(), jwt_secret: random_secret(), upstreams, redis_prefix }
    }

    pub fn upstream(&self, name: &str) -> &Upstream {
        self.upstreams.iter().find(|u| u.name == name).unwrap()
    }

    /// Arguments of a gateway instance in `sut`'s schema.
    pub fn args(&self, sut: &ServiceUnderTest) -> Vec<String> {
        let mut args = sut.args();
        args.extend(
            [
                "--redis-url",
                &aex_testkit::redis_url(),
                "--redis-key-prefix",
                &self.redis_prefix,
                "--jwt-secret",
                &self.jwt_secret,
                "--admin-api-key",
                &self.admin_key,
                "--work-publisher-url",
                &self.upstream("work-publisher").url,
                "--bid-evaluator-url",
                &self.upstream("bid-evaluator").url,
                "--settlement-url",
                &self.upstream("settlement").url,
                "--certauth-url",
                &self.upstream("certauth").url,
            ]
            .map(str::to_string),
        );
        args
    }
}

pub fn random_key() -> String {
    let hex: String = (0..64).map(|_| char::from(b"0123456789abcdef"[fastrand_usize(16)])).collect();
    format!("aexk_{hex}")
}

fn random_secret() -> String {
    (0..48)
        .map(|_| char::from(b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"[fastrand_usize(55)]))
        .collect()
}

fn fastrand_usize(n: usize) -> usize {
    let mut byte = [0u8; 8];
    getrandom::fill(&mut byte).unwrap();
    (u64::from_le_bytes(byte) % n as u64) as usize
}

/// Starts one gateway instance with `args`.
pub async fn spawn(args: Vec<String>) -> RunningService {
    let config = aex_gateway::Config::try_parse_from(args).expect("test configuration parses");
    aex_testkit::spawn_service(|listener, shutdown| aex_gateway::run(config, listener, shutdown)).await
}

/// Starts the real gateway on 127.0.0.1:0 in its own schema and NATS namespace.
pub async fn start() -> (RunningService, ServiceUnderTest) {
    let gateway = start_gateway().await;
    (gateway.service, gateway.sut)
}

/// Starts a gateway with stand-in upstreams and a known operator key.
pub async fn start_gateway() -> Gateway {
    start_gateway_with(&[]).await
}

pub async fn start_gateway_with(extra: &[&str]) -> Gateway {
    let sut = ServiceUnderTest::new("aex-gateway", aex_gateway::SCHEMA);
    let env = TestEnv::new(&sut).await;
    let service = spawn(with_flags(env.args(&sut), extra)).await;
    Gateway { service, sut, env }
}

/// `args` with the flag pairs of `extra` added; a flag given in `extra` replaces the default one.
pub fn with_flags(mut args: Vec<String>, extra: &[&str]) -> Vec<String> {
    for pair in extra.chunks(2) {
        if let Some(at) = args.iter().position(|a| a == pair[0]) {
            args.drain(at..at + 2);
        }
        args.extend(pair.iter().map(|s| s.to_string()));
    }
    args
}

/// How a request authenticates.
#[derive(Clone, Copy)]
pub enum Cred<'a> {
    None,
    ApiKey(&'a str),
    Bearer(&'a str),
}

impl Gateway {
    pub fn admin(&self) -> Cred<'_> {
        Cred::ApiKey(&self.env.admin_key)
    }

    pub async fn call(&self, method: &str, path: &str, cred: Cred<'_>, body: Option<Value>) -> (StatusCode, Value) {
        call(&self.service, method, path, cred, body).await
    }

    /// Creates a tenant as the operator; returns its id and first key.
    pub async fn create_tenant(&self, tenant_type: &str) -> (String, String) {
        let (status, body) =
            self.call("POST", "/v1/tenants", self.admin(), Some(json!({"name": "Acme", "type": tenant_type}))).await;
        assert_eq!(status, 201, "{body}");
        (body["id"].as_str().unwrap().to_string(), body["api_key"]["key"].as_str().unwrap().to_string())
    }

    /// Creates a key for `tenant` with `scopes`, authenticated as `cred`.
    pub async fn create_key(&self, tenant: &str, cred: Cred<'_>, scopes: &[&str], extra: Value) -> (String, String) {
        let mut body = json!({"name": "test key", "scopes": scopes});
        if let (Some(map), Value::Object(more)) = (body.as_object_mut(), extra) {
            map.extend(more);
        }
        let (status, body) = self.call("POST", &format!("/v1/tenants/{tenant}/api-keys"), cred, Some(body)).await;
        assert_eq!(status, 201, "{body}");
        (body["id"].as_str().unwrap().to_string(), body["key"].as_str().unwrap().to_string())
    }

    pub async fn pool(&self) -> sqlx::PgPool {
        self.sut.pool().await
    }

    /// Sets a tenant's rate-limit overrides as the operator does (`POST /v1/tenants/{id}/quotas`).
    pub async fn set_limits(&self, tenant: &str, per_minute: Option<i32>, burst: Option<i32>, money: Option<i32>) {
        let quotas = json!({"requests_per_minute": per_minute, "burst": burst, "money_requests_per_minute": money});
        let (status, body) =
            self.call("POST", &format!("/v1/tenants/{tenant}/quotas"), self.admin(), Some(quotas)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["quotas"]["requests_per_minute"], json!(per_minute), "{body}");
    }
}

/// One request to a running gateway; the body is parsed as JSON (`Null` when empty).
pub async fn call(
    service: &RunningService,
    method: &str,
    path: &str,
    cred: Cred<'_>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let response = request(service, method, path, cred, body).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub fn request(
    service: &RunningService,
    method: &str,
    path: &str,
    cred: Cred<'_>,
    body: Option<Value>,
) -> reqwest::RequestBuilder {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut builder = service.http.request(method, service.url(path)).timeout(Duration::from_secs(20));
    builder = match cred {
        Cred::None => builder,
        Cred::ApiKey(key) => builder.header("x-api-key", key),
        Cred::Bearer(token) => builder.bearer_auth(token),
    };
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    builder
}

/// Asserts an error answer: status and code.
#[track_caller]
pub fn assert_error(answer: &(StatusCode, Value), status: u16, code: &str) {
    assert_eq!(answer.0.as_u16(), status, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], code, "{}", answer.1);
}
