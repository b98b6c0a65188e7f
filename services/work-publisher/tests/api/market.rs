//! The marketplace with its real neighbours: work-publisher, settlement (escrow) and the
//! bid-evaluator, in schemas of their own on one NATS namespace and one service-token secret,
//! so events and service calls flow between them as in production.

use crate::{Caller, Publisher, bid_body, tenant, work_body};
use aex_common::auth::ServiceTokens;
use aex_common::secret::Secret;
use aex_testkit::{RunningService, ServiceUnderTest, unique_schema};
use clap::Parser;
use serde_json::{Value, json};
use std::time::Duration;

pub struct Market {
    pub p: Publisher,
    pub settlement: RunningService,
    pub evaluator: Option<RunningService>,
    pub settlement_pool: sqlx::PgPool,
    settlement_tokens: ServiceTokens,
}

/// A sibling service's environment: its own schema, the publisher's namespace and secret.
fn sibling(of: &ServiceUnderTest, binary: &str, schema: &str) -> ServiceUnderTest {
    ServiceUnderTest { binary: binary.to_string(), schema: unique_schema(schema), ..of.clone() }
}

/// Options of one market.
#[derive(Debug, Clone)]
pub struct Options {
    pub contract_ttl_seconds: u64,
    pub evaluator: bool,
    /// Overrides the settlement URL work-publisher calls (an unreachable one, say).
    pub settlement_url: Option<String>,
    pub extra: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self { contract_ttl_seconds: 3600, evaluator: true, settlement_url: None, extra: Vec::new() }
    }
}

impl Market {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        let sut = ServiceUnderTest::new("aex-work-publisher", aex_work_publisher::SCHEMA);
        let settlement_sut = sibling(&sut, "aex-settlement", "settlement");
        let settlement_config =
            aex_settlement::Config::try_parse_from(settlement_sut.args()).expect("settlement configuration parses");
        let settlement = aex_testkit::spawn_service(|l, s| aex_settlement::run(settlement_config, l, s)).await;
        let settlement_pool = settlement_sut.pool().await;

        let mut extra = vec![
            "--settlement-url".to_string(),
            options.settlement_url.clone().unwrap_or_else(|| settlement.base_url.clone()),
            "--contract-ttl-seconds".to_string(),
            options.contract_ttl_seconds.to_string(),
            "--http-max-retries".to_string(),
            "1".to_string(),
        ];
        extra.extend(options.extra.iter().cloned());
        let p = Publisher::start_on(sut.clone(), extra).await;

        let evaluator = if options.evaluator { Some(start_evaluator(&p).await) } else { None };
        let settlement_tokens =
            ServiceTokens::new(&Secret::new(sut.token_secret.clone()), Duration::from_secs(300)).expect("tokens");
        Self { p, settlement, evaluator, settlement_pool, settlement_tokens }
    }

    /// The tenant as the gateway would present it to settlement.
    pub fn bank(&self, tenant: &str) -> Caller<'_> {
        let scopes = vec!["read".to_string(), "billing:write".to_string()];
        Caller {
            service: &self.settlement,
            token: self.settlement_tokens.mint("gateway", Some(tenant), &scopes, None).expect("token"),
        }
    }

    /// Deposits `amount` (decimal text) for the tenant.
    pub async fn deposit(&self, tenant: &str, amount: &str) {
        let response = self
            .settlement
            .http
            .post(self.settlement.url("/v1/deposits"))
            .bearer_auth(&self.bank(tenant).token)
            .header("Idempotency-Key", aex_testkit::unique_suffix())
            .json(&json!({ "amount": amount, "currency": "USD" }))
            .send()
            .await
            .expect("deposit");
        assert_eq!(response.status().as_u16(), 201, "{:?}", response.text().await);
    }

    /// The tenant's balance in minor units: (available, held, total).
    pub async fn balance(&self, tenant: &str) -> (i64, i64, i64) {
        let (status, body) = self.bank(tenant).get("/v1/balance").await;
        assert_eq!(status, 200, "{body}");
        let minor = |field: &str| body[field].as_i64().unwrap_or(0);
        (minor("available_minor"), minor("held_minor"), minor("balance_minor"))
    }

    /// The settlement record of a contract, as one of its parties sees it.
    pub async fn settlement_of(&self, tenant: &str, contract_id: &str) -> (u16, Value) {
        self.bank(tenant).get(&format!("/v1/settlements/{contract_id}")).await
    }

    /// Waits until settlement shows the contract's escrow in `status`.
    pub async fn wait_settlement(&self, tenant: &str, contract_id: &str, status: &str) -> Value {
        aex_testkit::eventually(Duration::from_secs(20), "settlement to resolve the escrow", || async {
            let (code, body) = self.settlement_of(tenant, contract_id).await;
            (code == 200 && body["status"] == status).then_some(body)
        })
        .await
    }

    /// A consumer with `funds` deposited, and work whose window is closed with one bid from each
    /// of `prices` (a provider tenant each). Returns (consumer, work id, [(provider tenant, bid id)]).
    pub async fn closed_work(&self, funds: Option<&str>, prices: &[&str], auto_award: bool) -> Scenario {
        let consumer = tenant();
        if let Some(funds) = funds {
            self.deposit(&consumer, funds).await;
        }
        let mut body = work_body("translation.legal");
        body["auto_award"] = json!(auto_award);
        let (status, created) = self.p.tenant(&consumer).post("/v1/work", &body).await;
        assert_eq!(status, 201, "{created}");
        let work_id = created["work_id"].as_str().unwrap_or_default().to_string();
        let mut bids = Vec::new();
        for price in prices {
            let provider_tenant = tenant();
            let caller = self.p.tenant(&provider_tenant);
            let provider_id = caller.provider(&crate::name("agent")).await;
            let (status, bid) = caller.post("/v1/bids", &bid_body(&work_id, price)).await;
            assert_eq!(status, 201, "{bid}");
            bids.push(Bidder {
                tenant: provider_tenant,
                provider_id,
                bid_id: bid["bid_id"].as_str().unwrap_or_default().to_string(),
            });
        }
        self.p.expire_window(&work_id).await;
        self.p.wait_closed(&work_id).await;
        Scenario { consumer, work_id, bids }
    }

    /// Waits until work-publisher holds the evaluator's ranking of the work.
    pub async fn wait_evaluated(&self, work_id: &str) {
        aex_testkit::eventually(Duration::from_secs(20), "the evaluation to arrive", || async {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM evaluations WHERE work_id = $1")
                .bind(work_id)
                .fetch_one(&self.p.pool)
                .await
                .ok()?;
            (n == 1).then_some(())
        })
        .await;
    }

    pub async fn stop(self) {
        if let Some(evaluator) = self.evaluator {
            evaluator.stop().await;
        }
        self.p.service.stop().await;
        self.settlement.stop().await;
    }
}

/// The real evaluator, reading bids from `p` and without certauth (the evaluation runs
/// degraded, without trust and certification).
pub async fn start_evaluator(p: &Publisher) -> RunningService {
    let evaluator_sut = sibling(&p.sut, "aex-bid-evaluator", "bid_evaluator");
    let mut args = evaluator_sut.args();
    args.extend(["--work-publisher-url".to_string(), p.service.base_url.clone()]);
    args.extend(["--certauth-url".to_string(), "http://127.0.0.1:9".to_string()]);
    let config = aex_bid_evaluator::Config::try_parse_from(args).expect("evaluator configuration parses");
    aex_testkit::spawn_service(|l, s| aex_bid_evaluator::run(config, l, s)).await
}

pub struct Bidder {
    pub tenant: String,
    pub provider_id: String,
    pub bid_id: String,
}

pub struct Scenario {
    pub consumer: String,
    pub work_id: String,
    pub bids: Vec<Bidder>,
}
