//! The whole platform in one process, for end-to-end tests: gateway, work-publisher,
//! bid-evaluator, settlement and certauth on real Postgres, Redis and NATS, each in a schema of
//! its own, sharing one NATS namespace and one service-token secret as a deployment does.
//! Callers reach it only through the gateway, with [`aex_client`].
//!
//! One [`Stack`] serves a whole test binary: it starts on first use on a runtime thread of its
//! own, so it outlives each test's runtime; tests isolate themselves by using tenants of their
//! own.

#![allow(clippy::expect_used)]

use aex_client::Client;
use aex_client::identity::{CreatedTenant, NewTenant, TenantType};
use aex_testkit::{RunningService, ServiceUnderTest};
use clap::Parser;
use std::sync::OnceLock;
use std::time::Duration;

/// The key-encryption key certauth runs with here (CA keys encrypted at rest).
const CA_KEK: &str = "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const JWT_SECRET: &str = "e2e-tests-jwt-secret-0123456789abcdefghijklmn";
/// Contracts expire this long after their award, so the expiry path runs within a test.
pub const CONTRACT_TTL_SECONDS: u64 = 20;

/// The running services and the operator's key.
pub struct Stack {
    pub gateway: RunningService,
    pub admin_key: String,
    /// The services behind the gateway, by name (`settlement`, `work-publisher`, …), for tests
    /// that check what a service answers to a caller that bypasses the gateway.
    pub services: Vec<(&'static str, RunningService)>,
    /// The secret the services verify service tokens with.
    pub token_secret: String,
}

static STACK: OnceLock<Stack> = OnceLock::new();

/// The stack, started on first use.
pub fn stack() -> &'static Stack {
    STACK.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the stack's runtime");
            runtime.block_on(async move {
                let _ = sender.send(Stack::start().await);
                std::future::pending::<()>().await;
            });
        });
        receiver.recv_timeout(Duration::from_secs(180)).expect("the stack starts")
    })
}

/// Arguments of a service sharing the gateway's service-token secret and NATS namespace, in a
/// schema of its own.
fn service_args(gateway: &ServiceUnderTest, binary: &str, schema: &str, extra: &[&str]) -> Vec<String> {
    let mut sut = ServiceUnderTest::new(binary, schema);
    sut.token_secret = gateway.token_secret.clone();
    sut.namespace = gateway.namespace.clone();
    let mut args = sut.args();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

impl Stack {
    async fn start() -> Stack {
        let gateway_sut = ServiceUnderTest::new("aex-gateway", aex_gateway::SCHEMA);

        let args = service_args(&gateway_sut, "aex-settlement", aex_settlement::SCHEMA, &[]);
        let config = aex_settlement::Config::try_parse_from(args).expect("settlement configuration");
        let settlement = aex_testkit::spawn_service(|l, s| aex_settlement::run(config, l, s)).await;

        let ttl = CONTRACT_TTL_SECONDS.to_string();
        let args = service_args(
            &gateway_sut,
            "aex-work-publisher",
            aex_work_publisher::SCHEMA,
            &["--settlement-url", &settlement.base_url, "--contract-ttl-seconds", &ttl],
        );
        let config = aex_work_publisher::Config::try_parse_from(args).expect("work-publisher configuration");
        let work_publisher = aex_testkit::spawn_service(|l, s| aex_work_publisher::run(config, l, s)).await;

        let args = service_args(&gateway_sut, "aex-certauth", aex_certauth::SCHEMA, &["--ca-kek", CA_KEK]);
        let config = aex_certauth::Config::try_parse_from(args).expect("certauth configuration");
        let certauth = aex_testkit::spawn_service(|l, s| aex_certauth::run(config, l, s)).await;

        let args = service_args(
            &gateway_sut,
            "aex-bid-evaluator",
            aex_bid_evaluator::SCHEMA,
            &["--work-publisher-url", &work_publisher.base_url, "--certauth-url", &certauth.base_url],
        );
        let config = aex_bid_evaluator::Config::try_parse_from(args).expect("bid-evaluator configuration");
        let evaluator = aex_testkit::spawn_service(|l, s| aex_bid_evaluator::run(config, l, s)).await;

        let admin_key = format!("aexk_{}", "e2".repeat(32));
        let redis_prefix = format!("aex-e2e-{}:", aex_testkit::unique_suffix());
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
                &evaluator.base_url,
                "--settlement-url",
                &settlement.base_url,
                "--certauth-url",
                &certauth.base_url,
                // Stories make many calls per tenant in bursts; the limits are not under test.
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
        let config = aex_gateway::Config::try_parse_from(args).expect("gateway configuration");
        let gateway = aex_testkit::spawn_service(|l, s| aex_gateway::run(config, l, s)).await;
        let services = vec![
            ("settlement", settlement),
            ("work-publisher", work_publisher),
            ("certauth", certauth),
            ("bid-evaluator", evaluator),
        ];
        Stack { gateway, admin_key, services, token_secret: gateway_sut.token_secret.clone() }
    }

    /// A client of the gateway with `key`.
    pub fn client(&self, key: &str) -> Client {
        Client::builder(&self.gateway.base_url).api_key(key).timeout(Duration::from_secs(20)).build().expect("a client")
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> Client {
        Client::builder(&self.gateway.base_url).build().expect("a client")
    }

    /// The operator (admin key).
    pub fn operator(&self) -> Client {
        self.client(&self.admin_key)
    }

    /// A new tenant of `tenant_type`, created by the operator, and a client with its first key.
    pub async fn tenant(&self, tenant_type: TenantType) -> (CreatedTenant, Client) {
        let name = format!("Tenant {}", aex_testkit::unique_suffix());
        let created = self
            .operator()
            .tenants()
            .create(&NewTenant::new(name, tenant_type))
            .await
            .expect("the operator creates a tenant");
        let client = self.client(created.api_key.secret().expect("a new tenant's key").expose());
        (created, client)
    }
}
