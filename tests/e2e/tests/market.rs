//! The cast of a story: an operator-created consumer and certified providers, and the steps
//! every story shares.

use aex_client::Client;
use aex_client::certificates::{CertificateRequest, CertificateType, Claim, KeyMaterial};
use aex_client::evaluation::Evaluation;
use aex_client::identity::{CreatedTenant, TenantType};
use aex_client::marketplace::{
    Award, Budget, Contract, Delivery, NewBid, NewProvider, NewSubscription, NewWork, Sla, SubscriptionFilters,
};
use aex_client::money::{Funds, Settlement};
use aex_types::{BidId, Currency, Money, ProviderId, Timestamp, WorkId};
use std::time::Duration;

pub fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD)
}

/// Waits up to 40 s for `probe` to give a value.
pub async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    aex_testkit::eventually(Duration::from_secs(40), what, probe).await
}

pub struct Provider {
    pub client: Client,
    pub provider_id: ProviderId,
}

/// A provider tenant with a profile, a polling subscription to `category`, and a CAPABILITY
/// certificate requested with a CSR over its own P-256 key and approved by the operator.
pub async fn certified_provider(category: &str) -> Provider {
    let stack = aex_e2e::stack();
    let (_, client) = stack.tenant(TenantType::Provider).await;
    let suffix = aex_testkit::unique_suffix();
    let created = client
        .providers()
        .create(&NewProvider {
            name: format!("Translator {suffix}"),
            endpoint: "https://agent.example.com/a2a".into(),
            capabilities: vec!["translation".into()],
            contact_email: "ops@agent.example.com".into(),
            ..NewProvider::default()
        })
        .await
        .unwrap();
    client
        .subscriptions()
        .create(&NewSubscription {
            provider_id: created.provider_id.clone(),
            categories: vec![category.to_string()],
            filters: SubscriptionFilters::default(),
            delivery: Delivery::polling(),
        })
        .await
        .unwrap();

    let key = aex_certauth::domain::ca::generate_key().unwrap();
    let name: x509_cert::name::Name = format!("CN=translator-{suffix}").parse().unwrap();
    let csr = x509_cert::builder::Builder::build::<_, p256::ecdsa::DerSignature>(
        x509_cert::request::RequestBuilder::new(name).unwrap(),
        &key,
    )
    .unwrap();
    let pem = x509_cert::der::EncodePem::to_pem(&csr, x509_cert::der::pem::LineEnding::LF).unwrap();
    let request = client
        .certificates()
        .request(&CertificateRequest {
            provider_id: created.provider_id.to_string(),
            agent_name: format!("Translator {suffix}"),
            certificate_type: CertificateType::Capability,
            claims: vec![Claim {
                category: "translation".into(),
                capability: "legal".into(),
                scope: None,
                authorization: "FULL".into(),
            }],
            key: KeyMaterial::CsrPem(pem),
        })
        .await
        .unwrap();
    assert_eq!(request.status, "PENDING");
    let certificate = stack.operator().certificates().approve(&request.request_id).await.unwrap();
    assert_eq!(certificate.status, "ACTIVE");
    Provider { client, provider_id: created.provider_id }
}

/// A consumer tenant with `funds` deposited.
pub async fn funded_consumer(funds: i64) -> (CreatedTenant, Client) {
    let (tenant, client) = aex_e2e::stack().tenant(TenantType::Requestor).await;
    if funds > 0 {
        client.deposits().create(&Funds::new(usd(funds))).await.unwrap();
    }
    (tenant, client)
}

/// Work in `category` with a 5 s bid window.
pub async fn submit(consumer: &Client, category: &str, max_price: i64) -> WorkId {
    let mut work = NewWork::new(category, "Translate the attached NDA", Budget::new(usd(max_price)));
    work.bid_window_ms = Some(5_000);
    work.payload = serde_json::json!({ "document": "nda.pdf" });
    let submitted = consumer.work().submit(&work).await.unwrap();
    assert_eq!(submitted.status, "OPEN");
    submitted.work_id
}

pub async fn bid(provider: &Provider, work: &WorkId, price: i64, confidence: f64) -> BidId {
    let bid = provider
        .client
        .bids()
        .submit(&NewBid {
            work_id: work.clone(),
            provider_id: Some(provider.provider_id.clone()),
            price: usd(price),
            price_breakdown: None,
            confidence,
            approach: "Sworn translator, reviewed".into(),
            estimated_latency_ms: 2_000,
            mvp_sample: None,
            sla: Sla { max_latency_ms: 10_000, availability: 0.99 },
            a2a_endpoint: "https://agent.example.com/a2a".into(),
            expires_at: Timestamp::from_unix_millis(Timestamp::now().unix_millis() + 3_600_000).unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(bid.status, "RECEIVED");
    bid.bid_id
}

/// The evaluation, once the window closed and the evaluator ranked the bids.
pub async fn evaluation(consumer: &Client, work: &WorkId) -> Evaluation {
    eventually("the evaluation", || async { consumer.evaluations().get(work).await.ok() }).await
}

/// Awards the evaluator's best bid (retrying while its ranking is on its way to the publisher).
pub async fn award_best(consumer: &Client, work: &WorkId) -> Contract {
    eventually("the award", || async {
        match consumer.contracts().award(work, &Award::Auto).await {
            Ok(contract) => Some(contract),
            Err(error) if error.code() == Some("EVALUATION_PENDING") => None,
            Err(error) => panic!("award failed: {error}"),
        }
    })
    .await
}

/// The escrow of a contract once it reached `status`.
pub async fn settlement(client: &Client, contract_id: &str, status: &str) -> Settlement {
    eventually("the escrow to resolve", || async {
        let settlement = client.settlements().get(contract_id).await.ok()?;
        (settlement.status == status).then_some(settlement)
    })
    .await
}

/// (available, held) of the caller in minor units.
pub async fn balance(client: &Client) -> (i64, i64) {
    let balance = client.balance().get(None).await.unwrap();
    (balance.available_minor, balance.held_minor)
}

/// A category of this test alone, so only its providers are notified.
pub fn category() -> String {
    format!("translation.e{}", aex_testkit::unique_suffix())
}
