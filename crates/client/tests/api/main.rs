//! The SDK against the real services: the gateway, work-publisher, settlement and certauth run
//! in this process on real Postgres, Redis and NATS, and every test drives them only through
//! `aex-client`, as an application would.
//!
//! One stack serves the whole binary (it starts once, on a runtime of its own); each test
//! works with tenants of its own, so tests never see each other's data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod certificates;
mod identity;
mod marketplace;
mod money;
mod retries;

use aex_client::Client;
use aex_client::identity::{CreatedTenant, NewTenant, TenantType};
use aex_testkit::{RunningService, ServiceUnderTest};
use clap::Parser;
use std::sync::OnceLock;
use std::time::Duration;

/// The key-encryption key certauth runs with here (CA keys encrypted at rest).
const CA_KEK: &str = "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const JWT_SECRET: &str = "client-tests-jwt-secret-0123456789abcdefghij";

/// The running services and the operator's key.
pub struct Stack {
    pub gateway: RunningService,
    pub admin_key: String,
    _services: Vec<RunningService>,
}

static STACK: OnceLock<Stack> = OnceLock::new();

/// The stack, started on first use. Its services live on a runtime thread of their own, so
/// they outlive each test's runtime.
pub fn stack() -> &'static Stack {
    STACK.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                sender.send(Stack::start().await).unwrap();
                std::future::pending::<()>().await;
            });
        });
        receiver.recv_timeout(Duration::from_secs(120)).expect("the stack starts")
    })
}

/// Arguments of a service sharing the gateway's service-token secret and NATS namespace (so
/// the gateway's service tokens verify and events flow), in a schema of its own.
fn service_args(gateway: &ServiceUnderTest, binary: &str, schema: &str) -> Vec<String> {
    let mut sut = ServiceUnderTest::new(binary, schema);
    sut.token_secret = gateway.token_secret.clone();
    sut.namespace = gateway.namespace.clone();
    sut.args()
}

impl Stack {
    async fn start() -> Stack {
        let gateway_sut = ServiceUnderTest::new("aex-gateway", aex_gateway::SCHEMA);

        let config = aex_settlement::Config::try_parse_from(service_args(
            &gateway_sut,
            "aex-settlement",
            aex_settlement::SCHEMA,
        ))
        .unwrap();
        let settlement =
            aex_testkit::spawn_service(|listener, shutdown| aex_settlement::run(config, listener, shutdown)).await;

        let mut args = service_args(&gateway_sut, "aex-work-publisher", aex_work_publisher::SCHEMA);
        args.extend(["--settlement-url".to_string(), settlement.base_url.clone()]);
        let config = aex_work_publisher::Config::try_parse_from(args).unwrap();
        let work_publisher =
            aex_testkit::spawn_service(|listener, shutdown| aex_work_publisher::run(config, listener, shutdown)).await;

        let mut args = service_args(&gateway_sut, "aex-certauth", aex_certauth::SCHEMA);
        args.extend(["--ca-kek".to_string(), CA_KEK.to_string()]);
        let config = aex_certauth::Config::try_parse_from(args).unwrap();
        let certauth =
            aex_testkit::spawn_service(|listener, shutdown| aex_certauth::run(config, listener, shutdown)).await;

        // No bid-evaluator here: its routes answer 502 through the gateway.
        let nowhere = format!("http://127.0.0.1:{}", aex_testkit::free_port());
        let admin_key = format!("aexk_{}", "c1".repeat(32));
        let redis_prefix = format!("aex-client-test-{}:", aex_testkit::unique_suffix());
        let mut args = gateway_sut.args();
        args.extend(
            [
                "--redis-url",
                &aex_testkit::redis_url(),
                "--redis-key-prefix",
                &redis_prefix,
                "--jwt-secret",
                JWT_SECRET,
                "--admin-api-key",
                &admin_key,
                "--work-publisher-url",
                &work_publisher.base_url,
                "--bid-evaluator-url",
                &nowhere,
                "--settlement-url",
                &settlement.base_url,
                "--certauth-url",
                &certauth.base_url,
                // Tests make many calls per tenant in a burst; the limits are not under test.
                "--rate-limit-cold-start-seconds",
                "0",
                "--rate-limit-per-minute",
                "100000",
                "--rate-limit-burst",
                "10000",
                "--money-rate-limit-per-minute",
                "100000",
                "--money-rate-limit-burst",
                "10000",
            ]
            .map(str::to_string),
        );
        let config = aex_gateway::Config::try_parse_from(args).unwrap();
        let gateway =
            aex_testkit::spawn_service(|listener, shutdown| aex_gateway::run(config, listener, shutdown)).await;
        Stack { gateway, admin_key, _services: vec![settlement, work_publisher, certauth] }
    }

    /// A client of the gateway with `key`.
    pub fn client(&self, key: &str) -> Client {
        Client::builder(&self.gateway.base_url).api_key(key).timeout(Duration::from_secs(20)).build().unwrap()
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> Client {
        Client::builder(&self.gateway.base_url).build().unwrap()
    }

    /// The operator (admin key).
    pub fn operator(&self) -> Client {
        self.client(&self.admin_key)
    }

    /// A new tenant of `tenant_type`, created by the operator, and a client with its first key.
    pub async fn tenant(&self, tenant_type: TenantType) -> (CreatedTenant, Client) {
        let name = format!("Tenant {}", aex_testkit::unique_suffix());
        let created = self.operator().tenants().create(&NewTenant::new(name, tenant_type)).await.unwrap();
        let client = self.client(created.api_key.key.expose());
        (created, client)
    }
}
