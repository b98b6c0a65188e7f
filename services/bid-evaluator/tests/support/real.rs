//! The evaluator with its real neighbours: work-publisher (sealed bids) and certauth (trust and
//! certified capabilities), each in a schema of its own on one NATS namespace and one
//! service-token secret. Shared by the API tests and the end-to-end benchmark.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use aex_common::auth::ServiceTokens;
use aex_common::secret::Secret;
use aex_testkit::{RunningService, ServiceUnderTest, unique_schema};
use clap::Parser;
use serde_json::{Value, json};
use std::time::Duration;

pub struct Real {
    pub publisher: RunningService,
    pub certauth: RunningService,
    certauth_sut: ServiceUnderTest,
    pub evaluator: RunningService,
    pub publisher_pool: sqlx::PgPool,
    pub evaluator_pool: sqlx::PgPool,
    pub tokens: ServiceTokens,
}

fn sibling(of: &ServiceUnderTest, binary: &str, schema: &str) -> ServiceUnderTest {
    ServiceUnderTest { binary: binary.to_string(), schema: unique_schema(schema), ..of.clone() }
}

impl Real {
    pub async fn start() -> Self {
        let sut = ServiceUnderTest::new("aex-work-publisher", aex_work_publisher::SCHEMA);
        let config = aex_work_publisher::Config::try_parse_from(sut.args()).unwrap();
        let publisher = aex_testkit::spawn_service(|l, s| aex_work_publisher::run(config, l, s)).await;
        let certauth_sut = sibling(&sut, "aex-certauth", aex_certauth::SCHEMA);
        let config = aex_certauth::Config::try_parse_from(certauth_sut.args()).unwrap();
        let certauth = aex_testkit::spawn_service(|l, s| aex_certauth::run(config, l, s)).await;
        let evaluator_sut = sibling(&sut, "aex-bid-evaluator", aex_bid_evaluator::SCHEMA);
        let mut args = evaluator_sut.args();
        args.extend(["--work-publisher-url".to_string(), publisher.base_url.clone()]);
        args.extend(["--certauth-url".to_string(), certauth.base_url.clone()]);
        let config = aex_bid_evaluator::Config::try_parse_from(args).unwrap();
        let evaluator = aex_testkit::spawn_service(|l, s| aex_bid_evaluator::run(config, l, s)).await;
        let tokens = ServiceTokens::new(&Secret::new(sut.token_secret.clone()), Duration::from_secs(600)).unwrap();
        Self {
            publisher,
            certauth,
            certauth_sut,
            evaluator,
            publisher_pool: sut.pool().await,
            evaluator_pool: evaluator_sut.pool().await,
            tokens,
        }
    }

    pub fn token(&self, tenant: &str) -> String {
        let scopes: Vec<String> =
            ["read", "providers:write", "work:submit", "bids:submit", "contracts:write", "certs:issue"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        self.tokens.mint("gateway", Some(tenant), &scopes, None).unwrap()
    }

    pub fn admin_token(&self) -> String {
        self.tokens.mint("gateway", Some("tenant_operator"), &["admin".to_string()], None).unwrap()
    }

    pub async fn call(
        &self,
        service: &RunningService,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = service.http.request(method, service.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Registers a provider for a fresh tenant; returns (tenant, provider id).
    pub async fn provider(&self) -> (String, String) {
        let tenant = aex_types::TenantId::new().to_string();
        let body = json!({
            "name": format!("agent-{}", aex_testkit::unique_suffix()),
            "description": "translates",
            "endpoint": "https://agent.example.com/a2a",
            "capabilities": ["translation"],
            "contact_email": "ops@agent.example.com",
        });
        let (status, created) =
            self.call(&self.publisher, reqwest::Method::POST, "/v1/providers", &self.token(&tenant), Some(body)).await;
        assert_eq!(status, 201, "{created}");
        (tenant, created["provider_id"].as_str().unwrap().to_string())
    }

    /// Issues a CAPABILITY certificate for `translation.en-de` to the provider; returns its id.
    pub async fn certify(&self, tenant: &str, provider_id: &str) -> String {
        let key = aex_certauth::domain::ca::generate_key().unwrap();
        let body = json!({
            "provider_id": provider_id,
            "agent_name": "Translator Agent",
            "certificate_type": "CAPABILITY",
            "claims": [{ "category": "translation", "capability": "en-de", "authorization": "FULL" }],
            "public_key_pem": aex_certauth::domain::ca::public_key_pem(key.verifying_key()).unwrap(),
        });
        let (status, request) = self
            .call(&self.certauth, reqwest::Method::POST, "/v1/certificates/request", &self.token(tenant), Some(body))
            .await;
        assert_eq!(status, 201, "{request}");
        let path = format!("/v1/certificates/requests/{}/approve", request["request_id"].as_str().unwrap());
        let (status, issued) =
            self.call(&self.certauth, reqwest::Method::POST, &path, &self.admin_token(), Some(json!({}))).await;
        assert_eq!(status, 200, "{issued}");
        issued["certificate_id"].as_str().or(issued["id"].as_str()).unwrap().to_string()
    }

    /// Submits work (window 5 s) for a fresh consumer; returns (consumer, work id).
    pub async fn work(&self, required_capabilities: Option<Vec<&str>>) -> (String, String) {
        let consumer = aex_types::TenantId::new().to_string();
        let body = json!({
            "category": "translation.legal",
            "description": "translate a contract",
            "budget": { "max_price": "100.00", "bid_strategy": "balanced" },
            "constraints": { "max_latency_ms": 60000, "required_capabilities": required_capabilities },
            "bid_window_ms": 5000,
        });
        let (status, created) =
            self.call(&self.publisher, reqwest::Method::POST, "/v1/work", &self.token(&consumer), Some(body)).await;
        assert_eq!(status, 201, "{created}");
        (consumer, created["work_id"].as_str().unwrap().to_string())
    }

    pub async fn bid(&self, tenant: &str, work_id: &str, price: &str) {
        let body = json!({
            "work_id": work_id,
            "price": price,
            "confidence": 0.9,
            "approach": "careful",
            "estimated_latency_ms": 30000,
            "sla": { "max_latency_ms": 60000, "availability": 0.99 },
            "a2a_endpoint": "https://agent.example.com/a2a",
            "expires_at": "2099-01-01T00:00:00Z",
        });
        let (status, bid) =
            self.call(&self.publisher, reqwest::Method::POST, "/v1/bids", &self.token(tenant), Some(body)).await;
        assert_eq!(status, 201, "{bid}");
    }

    /// Ends the work's window now; the closer takes it on its next sweep.
    pub async fn close_window(&self, work_id: &str) {
        sqlx::query("UPDATE work SET bid_window_ends_at = now() - interval '1 millisecond' WHERE id = $1")
            .bind(work_id)
            .execute(&self.publisher_pool)
            .await
            .unwrap();
    }

    /// The evaluation the owner sees, once there is one.
    pub async fn evaluation(&self, consumer: &str, work_id: &str) -> Value {
        let path = format!("/v1/work/{work_id}/evaluation");
        aex_testkit::eventually(Duration::from_secs(30), "the evaluation", || async {
            let (status, body) =
                self.call(&self.evaluator, reqwest::Method::GET, &path, &self.token(consumer), None).await;
            (status == 200).then_some(body)
        })
        .await
    }

    /// A new evaluation, as a platform service asks for one.
    pub async fn reevaluate(&self, work_id: &str) -> Value {
        let token = self.tokens.mint("work-publisher", None, &[], None).unwrap();
        let (status, body) = self
            .call(
                &self.evaluator,
                reqwest::Method::POST,
                "/internal/v1/evaluate",
                &token,
                Some(json!({ "work_id": work_id })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Stops certauth; its schema and address are kept for [`Real::start_certauth_again`].
    pub async fn stop_certauth(&mut self) {
        self.certauth.halt().await;
    }

    /// Starts certauth again on the same schema and address, so the evaluator finds it.
    pub async fn start_certauth_again(&mut self) {
        let config = aex_certauth::Config::try_parse_from(self.certauth_sut.args()).unwrap();
        self.certauth = aex_testkit::spawn_service_at(self.certauth.addr, |l, s| aex_certauth::run(config, l, s)).await;
    }

    pub async fn stop(self) {
        self.evaluator.stop().await;
        self.certauth.stop().await;
        self.publisher.stop().await;
    }
}
