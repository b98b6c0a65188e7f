//! The work-publisher service through its real HTTP stack, on real Postgres and NATS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent_cards;
mod bids;
mod contracts;
mod market;
mod operations;
mod providers;
mod subscriptions;
mod webhooks;
mod windows;
mod work;

use aex_common::auth::ServiceTokens;
use aex_common::secret::Secret;
use aex_testkit::{RunningService, ServiceUnderTest};
use clap::Parser;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

/// Starts the real service on 127.0.0.1:0 in its own schema and NATS namespace.
pub async fn start() -> (RunningService, ServiceUnderTest) {
    let sut = ServiceUnderTest::new("aex-work-publisher", aex_work_publisher::SCHEMA);
    let running = spawn(&sut, &[]).await;
    (running, sut)
}

async fn spawn(sut: &ServiceUnderTest, extra: &[String]) -> RunningService {
    let mut args = sut.args();
    args.extend(extra.iter().cloned());
    let config = aex_work_publisher::Config::try_parse_from(args).expect("test configuration parses");
    aex_testkit::spawn_service(|listener, shutdown| aex_work_publisher::run(config, listener, shutdown)).await
}

/// The running service plus what tests need to call it as any tenant.
pub struct Publisher {
    pub service: RunningService,
    pub sut: ServiceUnderTest,
    pub tokens: ServiceTokens,
    pub pool: PgPool,
    /// Flags beyond the test defaults, kept across restarts.
    pub extra: Vec<String>,
}

pub const ALL_SCOPES: &[&str] = &["read", "providers:write", "work:submit", "bids:submit", "contracts:write"];

impl Publisher {
    pub async fn start() -> Self {
        let sut = ServiceUnderTest::new("aex-work-publisher", aex_work_publisher::SCHEMA);
        Self::start_on(sut, Vec::new()).await
    }

    /// Starts the service in `sut`'s environment with `extra` flags.
    pub async fn start_on(sut: ServiceUnderTest, extra: Vec<String>) -> Self {
        let service = spawn(&sut, &extra).await;
        let tokens = ServiceTokens::new(&Secret::new(sut.token_secret.clone()), Duration::from_secs(300)).unwrap();
        let pool = sut.pool().await;
        Self { service, sut, tokens, pool, extra }
    }

    /// Stops the service and starts it again on the same schema and namespace.
    pub async fn restart(self) -> Self {
        let Publisher { service, sut, tokens, pool, extra } = self;
        service.stop().await;
        let service = spawn(&sut, &extra).await;
        Self { service, sut, tokens, pool, extra }
    }

    /// A service token as the gateway would mint it for `tenant` with `scopes`.
    pub fn caller(&self, tenant: &str, scopes: &[&str]) -> Caller<'_> {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        Caller { service: &self.service, token: self.tokens.mint("gateway", Some(tenant), &scopes, None).unwrap() }
    }

    /// A tenant with every marketplace scope.
    pub fn tenant(&self, tenant: &str) -> Caller<'_> {
        self.caller(tenant, ALL_SCOPES)
    }

    /// Another platform service (the evaluator).
    pub fn service_caller(&self) -> Caller<'_> {
        Caller { service: &self.service, token: self.tokens.mint("bid-evaluator", None, &[], None).unwrap() }
    }

    /// Outbox payloads (`data`) of one event type, oldest first.
    pub async fn events(&self, subject: &str) -> Vec<Value> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT payload FROM outbox WHERE subject = $1 ORDER BY id")
            .bind(subject)
            .fetch_all(&self.pool)
            .await
            .unwrap();
        rows.iter().map(|p| serde_json::from_slice::<Value>(p).unwrap()["data"].clone()).collect()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&self.pool).await.unwrap()
    }

    /// Moves a work's window deadline into the past, so the closer takes it on its next sweep.
    pub async fn expire_window(&self, work_id: &str) {
        sqlx::query("UPDATE work SET bid_window_ends_at = now() - interval '1 millisecond' WHERE id = $1")
            .bind(work_id)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    /// Waits until the closer has moved the work out of OPEN.
    pub async fn wait_closed(&self, work_id: &str) {
        aex_testkit::eventually(Duration::from_secs(15), "the bid window to close", || async {
            let status: String = sqlx::query_scalar("SELECT status FROM work WHERE id = $1")
                .bind(work_id)
                .fetch_one(&self.pool)
                .await
                .ok()?;
            (status != "OPEN").then_some(())
        })
        .await;
    }
}

/// Calls the service with one principal's token.
pub struct Caller<'a> {
    pub service: &'a RunningService,
    pub token: String,
}

impl Caller<'_> {
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.service.http.get(self.service.url(path)).bearer_auth(&self.token).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response =
            self.service.http.post(self.service.url(path)).bearer_auth(&self.token).json(body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Registers a provider and returns its id.
    pub async fn provider(&self, name: &str) -> String {
        let (status, body) = self.post("/v1/providers", &provider_body(name)).await;
        assert_eq!(status, 201, "{body}");
        body["provider_id"].as_str().unwrap().to_string()
    }

    /// Subscribes `provider` to `categories` by polling.
    pub async fn subscribe(&self, provider: &str, categories: &[&str]) -> Value {
        let body = json!({ "provider_id": provider, "categories": categories, "delivery": { "method": "polling" } });
        let (status, body) = self.post("/v1/subscriptions", &body).await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Submits work in `category` with a max price of 100.00 USD and returns its id.
    pub async fn work(&self, category: &str) -> String {
        let (status, body) = self.post("/v1/work", &work_body(category)).await;
        assert_eq!(status, 201, "{body}");
        body["work_id"].as_str().unwrap().to_string()
    }

    /// Bids `price` on `work_id` with the caller's only provider.
    pub async fn bid(&self, work_id: &str, price: &str) -> (u16, Value) {
        self.post("/v1/bids", &bid_body(work_id, price)).await
    }
}

/// A fresh tenant id.
pub fn tenant() -> String {
    aex_types::TenantId::new().to_string()
}

/// A unique provider name.
pub fn name(base: &str) -> String {
    format!("{base}-{}", aex_testkit::unique_suffix())
}

pub fn provider_body(name: &str) -> Value {
    json!({
        "name": name,
        "description": "translates legal documents",
        "endpoint": "https://agent.example.com/a2a",
        "bid_webhook": "https://agent.example.com/bids",
        "capabilities": ["translation", "Legal"],
        "contact_email": "ops@agent.example.com",
        "metadata": { "team": "blue" }
    })
}

pub fn work_body(category: &str) -> Value {
    json!({
        "category": category,
        "description": "translate a contract",
        "budget": { "max_price": "100.00", "bid_strategy": "balanced" },
        "constraints": { "max_latency_ms": 60000, "internal_only": false },
        "success_criteria": [{ "metric": "accuracy", "threshold": 0.95 }],
        "bid_window_ms": 30000,
        "payload": { "text": "hello" }
    })
}

pub fn bid_body(work_id: &str, price: &str) -> Value {
    json!({
        "work_id": work_id,
        "price": price,
        "confidence": 0.9,
        "approach": "human-reviewed machine translation",
        "estimated_latency_ms": 30000,
        "sla": { "max_latency_ms": 60000, "availability": 0.99 },
        "a2a_endpoint": "https://agent.example.com/a2a",
        "expires_at": "2099-01-01T00:00:00Z"
    })
}

/// Asserts an error answer's status and code.
pub fn assert_error(result: &(u16, Value), status: u16, code: &str) {
    assert_eq!(result.0, status, "{}", result.1);
    assert_eq!(result.1["error"]["code"], code, "{}", result.1);
}

/// A change to a request body, for tables of bad inputs.
pub type Edit = Box<dyn Fn(&mut Value)>;
