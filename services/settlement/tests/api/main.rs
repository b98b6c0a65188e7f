//! The settlement service through its real HTTP stack, on real Postgres and NATS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod crash;
mod escrow;
mod funds;
mod isolation;
mod operations;
mod receipts;
mod replicas;
mod reports;
mod transfers;

use aex_common::auth::ServiceTokens;
use aex_common::secret::Secret;
use aex_testkit::{RunningService, ServiceUnderTest};
use clap::Parser;
use serde_json::{Value, json};
use std::time::Duration;

/// The running service plus what tests need to call it as any tenant.
pub struct Settlement {
    pub service: RunningService,
    pub sut: ServiceUnderTest,
    pub tokens: ServiceTokens,
}

/// Starts the real service on 127.0.0.1:0 in its own schema and NATS namespace.
pub async fn start() -> (RunningService, ServiceUnderTest) {
    let sut = ServiceUnderTest::new("aex-settlement", aex_settlement::SCHEMA);
    let config = aex_settlement::Config::try_parse_from(sut.args()).expect("test configuration parses");
    let running =
        aex_testkit::spawn_service(|listener, shutdown| aex_settlement::run(config, listener, shutdown)).await;
    (running, sut)
}

impl Settlement {
    pub async fn start() -> Self {
        let (service, sut) = start().await;
        Self::from_parts(service, sut)
    }

    pub fn from_parts(service: RunningService, sut: ServiceUnderTest) -> Self {
        let tokens = ServiceTokens::new(&Secret::new(sut.token_secret.clone()), Duration::from_secs(300)).unwrap();
        Self { service, sut, tokens }
    }

    /// Stops the service and starts it again on the same schema and namespace.
    pub async fn restart(self) -> Self {
        let Settlement { service, sut, tokens } = self;
        service.stop().await;
        let config = aex_settlement::Config::try_parse_from(sut.args()).expect("test configuration parses");
        let service =
            aex_testkit::spawn_service(|listener, shutdown| aex_settlement::run(config, listener, shutdown)).await;
        Self { service, sut, tokens }
    }

    /// A service token as the gateway would mint it for `tenant` with `scopes`.
    pub fn token(&self, tenant: &str, scopes: &[&str]) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        self.tokens.mint("gateway", Some(tenant), &scopes, None).unwrap()
    }

    pub fn tenant(&self, tenant: &str) -> Caller<'_> {
        Caller { settlement: self, token: self.token(tenant, &["read", "billing:write"]) }
    }

    pub fn admin(&self) -> Caller<'_> {
        Caller { settlement: self, token: self.token("tenant_operator", &["admin"]) }
    }
}

/// Calls the service with one principal's token.
pub struct Caller<'a> {
    pub settlement: &'a Settlement,
    pub token: String,
}

impl Caller<'_> {
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .settlement
            .service
            .http
            .get(self.settlement.service.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_with_key(path, body, None).await
    }

    pub async fn post_with_key(&self, path: &str, body: &Value, key: Option<&str>) -> (u16, Value) {
        let mut request =
            self.settlement.service.http.post(self.settlement.service.url(path)).bearer_auth(&self.token).json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Deposits `amount` and asserts it was accepted.
    pub async fn deposit(&self, amount: &str) -> Value {
        let (status, body) = self.post("/v1/deposits", &serde_json::json!({ "amount": amount })).await;
        assert_eq!(status, 201, "{body}");
        body
    }

    pub async fn balance_minor(&self) -> i64 {
        let (status, body) = self.get("/v1/balance").await;
        assert_eq!(status, 200, "{body}");
        body["balance_minor"].as_i64().unwrap()
    }

    /// The id of the caller's USD account (created by a balance read if needed).
    pub async fn account_id(&self) -> String {
        self.get("/v1/balance").await;
        let (_, body) = self.get("/v1/accounts").await;
        body["accounts"][0]["id"].as_str().unwrap().to_string()
    }
}

/// A fresh tenant id.
pub fn tenant() -> String {
    aex_types::TenantId::new().to_string()
}

/// Places and settles one contract; returns its id.
pub async fn settle_deal(
    s: &Settlement,
    consumer: &str,
    provider_tenant: &str,
    provider_id: &str,
    price: &str,
    category: &str,
) -> String {
    let contract_id = aex_types::ContractId::new().to_string();
    s.tenant(consumer).deposit(price).await;
    let hold = json!({ "contract_id": contract_id, "consumer_tenant_id": consumer, "provider_tenant_id": provider_tenant,
                       "provider_id": provider_id, "amount": price, "category": category });
    let (status, body) = s.service_caller().post("/internal/v1/holds", &hold).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) =
        s.service_caller().post("/internal/settlement/complete", &json!({ "contract_id": contract_id })).await;
    assert_eq!(status, 200, "{body}");
    contract_id
}
