//! The certauth service through its real HTTP stack, on real Postgres and NATS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ca;
mod certificates;
mod crl;
mod operations;
mod reputation;
mod requests;

use aex_common::auth::ServiceTokens;
use aex_common::secret::Secret;
use aex_testkit::{RunningService, ServiceUnderTest};
use clap::Parser;
use p256::ecdsa::SigningKey;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// The key-encryption key the tests run with (so CA keys are encrypted at rest).
pub const TEST_KEK: &str = "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// Starts the real service on 127.0.0.1:0 in its own schema and NATS namespace.
pub async fn start() -> (RunningService, ServiceUnderTest) {
    let sut = ServiceUnderTest::new("aex-certauth", aex_certauth::SCHEMA);
    let running = start_on(&sut, &["--ca-kek", TEST_KEK]).await;
    (running, sut)
}

/// Starts the service on an existing schema with extra arguments.
pub async fn start_on(sut: &ServiceUnderTest, extra: &[&str]) -> RunningService {
    let mut args = sut.args();
    args.extend(extra.iter().map(|s| s.to_string()));
    let config = aex_certauth::Config::try_parse_from(args).expect("test configuration parses");
    aex_testkit::spawn_service(|listener, shutdown| aex_certauth::run(config, listener, shutdown)).await
}

/// The running service plus what tests need to call it as any tenant.
pub struct Certauth {
    pub service: RunningService,
    pub sut: ServiceUnderTest,
    pub tokens: ServiceTokens,
}

impl Certauth {
    pub async fn start() -> Self {
        let (service, sut) = start().await;
        let tokens = ServiceTokens::new(&Secret::new(sut.token_secret.clone()), Duration::from_secs(300)).unwrap();
        Self { service, sut, tokens }
    }

    /// Stops the service and starts it again on the same schema and KEK.
    pub async fn restart(self) -> Self {
        let Certauth { service, sut, tokens } = self;
        service.stop().await;
        let service = start_on(&sut, &["--ca-kek", TEST_KEK]).await;
        Self { service, sut, tokens }
    }

    /// A service token as the gateway would mint it for `tenant` with `scopes`.
    pub fn token(&self, tenant: &str, scopes: &[&str]) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        self.tokens.mint("gateway", Some(tenant), &scopes, None).unwrap()
    }

    pub fn tenant(&self, tenant: &str) -> Caller<'_> {
        Caller { certauth: self, token: Some(self.token(tenant, &["read", "certs:issue"])) }
    }

    pub fn admin(&self) -> Caller<'_> {
        Caller { certauth: self, token: Some(self.token("tenant_operator", &["admin"])) }
    }

    /// Another service (work-publisher, bid-evaluator) calling an internal route.
    pub fn service_caller(&self) -> Caller<'_> {
        Caller { certauth: self, token: Some(self.tokens.mint("bid-evaluator", None, &[], None).unwrap()) }
    }

    pub fn anonymous(&self) -> Caller<'_> {
        Caller { certauth: self, token: None }
    }

    pub async fn pool(&self) -> sqlx::PgPool {
        self.sut.pool().await
    }

    /// Certificate and CRL event types in the outbox, in order (without reputation recomputes).
    pub async fn certificate_subjects(&self) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT subject FROM outbox WHERE subject LIKE 'certificate.%' OR subject LIKE 'crl.%' ORDER BY id",
        )
        .fetch_all(&self.pool().await)
        .await
        .unwrap()
    }

    /// Event types in the outbox, in order.
    pub async fn outbox_subjects(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT subject FROM outbox ORDER BY id").fetch_all(&self.pool().await).await.unwrap()
    }
}

/// Calls the service with one principal's token (or none).
pub struct Caller<'a> {
    pub certauth: &'a Certauth,
    pub token: Option<String>,
}

impl Caller<'_> {
    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let s = &self.certauth.service;
        self.send(s.http.get(s.url(path))).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let s = &self.certauth.service;
        self.send(s.http.post(s.url(path)).json(body)).await
    }

    pub async fn delete(&self, path: &str, body: &Value) -> (u16, Value) {
        let s = &self.certauth.service;
        self.send(s.http.delete(s.url(path)).json(body)).await
    }

    /// Requests a certificate for `provider` with a fresh agent key; asserts 201.
    pub async fn request(&self, provider: &str) -> (String, SigningKey) {
        let key = aex_certauth::domain::ca::generate_key().unwrap();
        let (status, body) = self.post("/v1/certificates/request", &request_body(provider, &key)).await;
        assert_eq!(status, 201, "{body}");
        (body["request_id"].as_str().unwrap().to_string(), key)
    }
}

/// A valid request body for `provider` with the bare public key of `key`.
pub fn request_body(provider: &str, key: &SigningKey) -> Value {
    json!({
        "provider_id": provider,
        "agent_name": "Translator Agent",
        "certificate_type": "CAPABILITY",
        "claims": [
            { "category": "translation", "capability": "en-de", "scope": "eu", "authorization": "FULL" },
            { "category": "summarization", "capability": "*", "authorization": "LIMITED" }
        ],
        "public_key_pem": aex_certauth::domain::ca::public_key_pem(key.verifying_key()).unwrap(),
    })
}

/// Requests and approves a certificate for `provider` as `tenant`; returns the certificate view.
pub async fn issue(c: &Certauth, tenant: &str, provider: &str) -> Value {
    let (request_id, _) = c.tenant(tenant).request(provider).await;
    let (status, body) = c.admin().post(&format!("/v1/certificates/requests/{request_id}/approve"), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Verdict for a certificate id.
pub async fn verify_id(c: &Certauth, id: &str) -> Value {
    let (status, body) = c.tenant(&tenant()).post("/v1/certificates/verify", &json!({ "certificate_id": id })).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A fresh tenant id.
pub fn tenant() -> String {
    aex_types::TenantId::new().to_string()
}

/// A fresh provider id.
pub fn provider() -> String {
    aex_types::ProviderId::new().to_string()
}

/// A temporary directory removed on drop, for files handed to `openssl`.
pub struct TempDir(pub PathBuf);

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("aex-certauth-{}", aex_testkit::unique_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `openssl` with `args`; returns (success, stdout + stderr).
pub fn openssl(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = std::process::Command::new("openssl").args(args).output().expect("openssl is installed");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The PEM of CA key version `version` from the well-known document.
pub async fn ca_pem(c: &Certauth, version: i64) -> String {
    let (status, doc) = c.anonymous().get("/.well-known/aex-ca.json").await;
    assert_eq!(status, 200, "{doc}");
    let key = doc["keys"].as_array().unwrap().iter().find(|k| k["version"] == version).expect("key version listed");
    key["certificate"].as_str().unwrap().to_string()
}
