//! Contract escrow: hold at award, payout with the exact fee split, release, and exactly one
//! effect however often a request or event arrives.

use crate::{Settlement, tenant};
use aex_common::events::{EventBus, EventEnvelope, NatsArgs};
use async_nats::jetstream::message::PublishMessage;
use serde_json::{Value, json};
use std::time::Duration;

impl Settlement {
    /// A token as another platform service (work-publisher) would mint it.
    pub fn service_caller(&self) -> crate::Caller<'_> {
        crate::Caller { settlement: self, token: self.tokens.mint("work-publisher", None, &[], None).unwrap() }
    }

    pub async fn bus(&self) -> EventBus {
        let args = NatsArgs {
            nats_url: self.sut.nats_url.clone(),
            nats_namespace: self.sut.namespace.clone(),
            nats_stream_replicas: 1,
        };
        EventBus::connect(&args, "settlement-tests").await.unwrap()
    }
}

struct Deal {
    contract_id: String,
    consumer: String,
    provider_tenant: String,
    provider_id: String,
}

fn deal() -> Deal {
    Deal {
        contract_id: aex_types::ContractId::new().to_string(),
        consumer: tenant(),
        provider_tenant: tenant(),
        provider_id: aex_types::ProviderId::new().to_string(),
    }
}

fn hold_body(deal: &Deal, amount: &str) -> Value {
    json!({
        "contract_id": deal.contract_id, "consumer_tenant_id": deal.consumer,
        "provider_tenant_id": deal.provider_tenant, "provider_id": deal.provider_id,
        "amount": amount, "currency": "USD", "work_id": "work_1", "category": "translation"
    })
}

async fn count(s: &Settlement, sql: &'static str, contract_id: &str) -> i64 {
    let pool = s.sut.pool().await;
    sqlx::query_scalar(sql).bind(contract_id).fetch_one(&pool).await.unwrap()
}

#[tokio::test]
async fn a_successful_contract_pays_out_the_exact_fee_split() {
    let s = Settlement::start().await;
    let d = deal();
    let consumer = s.tenant(&d.consumer);
    consumer.deposit("150.00").await;
    let (status, held) = s.service_caller().post("/internal/v1/holds", &hold_body(&d, "100.00")).await;
    assert_eq!(status, 201, "{held}");
    assert_eq!(held["status"], "HELD");
    let (_, balance) = consumer.get("/v1/balance").await;
    assert_eq!((balance["held_minor"].as_i64(), balance["available_minor"].as_i64()), (Some(10000), Some(5000)));

    let (status, done) = s
        .service_caller()
        .post("/internal/settlement/complete", &json!({ "contract_id": d.contract_id, "success": true }))
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "settled");
    // 100.00 at the starter tier: platform 15.00, protocol 2.80 + 0.28 (tests/vectors/fees.json).
    let split = &done["settlement"];
    assert_eq!(split["platform_fee_minor"], 1500);
    assert_eq!(split["protocol_fee_minor"], 308);
    assert_eq!(split["payout_minor"], 8192);
    assert_eq!(split["tier"], "starter");
    assert_eq!(split["status"], "SETTLED");

    assert_eq!(consumer.balance_minor().await, 5000, "the consumer paid the price, to the cent");
    assert_eq!(s.tenant(&d.provider_tenant).balance_minor().await, 8192);
    let pool = s.sut.pool().await;
    let platform: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kind, credits_posted - debits_posted FROM accounts WHERE kind IN ('platform_revenue', 'protocol_fees', 'escrow') ORDER BY kind",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(platform, vec![("escrow".into(), 0), ("platform_revenue".into(), 1500), ("protocol_fees".into(), 308)]);

    let (status, again) = s
        .service_caller()
        .post("/internal/settlement/complete", &json!({ "contract_id": d.contract_id, "success": true }))
        .await;
    assert_eq!((status, again["error"]["code"].as_str()), (409, Some("ALREADY_RESOLVED")));
    assert_eq!(
        count(&s, "SELECT count(*) FROM outbox WHERE subject = 'settlement.completed' AND payload::text <> $1", "")
            .await,
        1
    );

    let (status, view) = consumer.get(&format!("/v1/settlements/{}", d.contract_id)).await;
    assert_eq!((status, view["status"].as_str()), (200, Some("SETTLED")));
    let (status, _) = s.tenant(&tenant()).get(&format!("/v1/settlements/{}", d.contract_id)).await;
    assert_eq!(status, 404, "only the parties see a settlement");
    let (_, verification) = s.admin().get("/v1/audit/journal/verify").await;
    assert_eq!(verification["valid"], true, "{verification}");
}

#[tokio::test]
async fn holds_are_refused_without_funds_below_the_fee_floor_or_with_other_terms() {
    let s = Settlement::start().await;
    let d = deal();
    s.tenant(&d.consumer).deposit("50.00").await;
    let service = s.service_caller();
    let (status, error) = service.post("/internal/v1/holds", &hold_body(&d, "50.01")).await;
    assert_eq!((status, error["error"]["code"].as_str()), (402, Some("INSUFFICIENT_FUNDS")));
    let (status, error) = service.post("/internal/v1/holds", &hold_body(&d, "0.10")).await;
    assert_eq!((status, error["error"]["code"].as_str()), (422, Some("AMOUNT_BELOW_MINIMUM_FEE")));
    let (status, first) = service.post("/internal/v1/holds", &hold_body(&d, "20.00")).await;
    assert_eq!(status, 201);
    let (status, repeat) = service.post("/internal/v1/holds", &hold_body(&d, "20.00")).await;
    assert_eq!((status, &repeat), (201, &first), "a repeated hold answers the original");
    let (status, error) = service.post("/internal/v1/holds", &hold_body(&d, "25.00")).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("HOLD_CONFLICT")));
    let (status, error) = s.tenant(&d.consumer).post("/internal/v1/holds", &hold_body(&d, "20.00")).await;
    assert_eq!((status, error["error"]["code"].as_str()), (403, Some("SERVICE_ONLY")));
}

#[tokio::test]
async fn five_hundred_concurrent_identical_holds_place_one() {
    let s = Settlement::start().await;
    let d = deal();
    s.tenant(&d.consumer).deposit("10.00").await;
    let token = s.service_caller().token;
    let body = hold_body(&d, "10.00");
    let calls: Vec<_> = (0..500)
        .map(|_| {
            let request = s.service.http.post(s.service.url("/internal/v1/holds")).bearer_auth(&token).json(&body);
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 201);
    }
    assert_eq!(count(&s, "SELECT count(*) FROM transfers WHERE reference = $1", &d.contract_id).await, 1);
    let (_, balance) = s.tenant(&d.consumer).get("/v1/balance").await;
    assert_eq!(balance["held_minor"], 1000);
    assert_eq!(
        count(&s, "SELECT count(*) FROM outbox WHERE subject = 'settlement.hold_placed' AND payload::text <> $1", "")
            .await,
        1
    );
}

async fn publish_outcome(bus: &EventBus, subject: &str, event_id: &str, msg_id: &str, d: &Deal, success: bool) {
    let envelope = EventEnvelope {
        event_id: event_id.to_string(),
        event_type: subject.to_string(),
        schema_version: 1,
        occurred_at: aex_types::Timestamp::now(),
        source: "work-publisher".into(),
        tenant_id: Some(d.consumer.clone()),
        traceparent: None,
        data: aex_api::events::ContractOutcome {
            contract_id: d.contract_id.clone(),
            work_id: "work_1".into(),
            consumer_tenant_id: d.consumer.clone(),
            provider_tenant_id: d.provider_tenant.clone(),
            provider_id: d.provider_id.clone(),
            success,
            reason: (!success).then(|| "provider failed".to_string()),
        },
    };
    let body = serde_json::to_vec(&envelope).unwrap();
    bus.jetstream()
        .send_publish(bus.subject(subject), PublishMessage::build().payload(body.into()).message_id(msg_id))
        .await
        .unwrap()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_same_completion_event_delivered_five_hundred_times_settles_once() {
    let s = Settlement::start().await;
    let d = deal();
    s.tenant(&d.consumer).deposit("100.00").await;
    assert_eq!(s.service_caller().post("/internal/v1/holds", &hold_body(&d, "100.00")).await.0, 201);
    let bus = s.bus().await;
    bus.ensure_streams().await.unwrap();
    let event_id = aex_types::EventId::new().to_string();
    for n in 0..500 {
        // Half are redeliveries of one event; half look like re-publications under new ids.
        let id = if n % 2 == 0 { event_id.clone() } else { aex_types::EventId::new().to_string() };
        publish_outcome(&bus, "contract.completed", &id, &format!("m{n}"), &d, true).await;
    }
    let provider = s.tenant(&d.provider_tenant);
    aex_testkit::eventually(Duration::from_secs(30), "the payout", || async {
        (provider.balance_minor().await == 8192).then_some(())
    })
    .await;
    // Let the remaining copies drain, then check nothing happened twice.
    aex_testkit::eventually(Duration::from_secs(60), "every copy consumed", || async {
        let pool = s.sut.pool().await;
        let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE consumer = 'settlement-contracts'")
            .fetch_one(&pool)
            .await
            .unwrap();
        (seen == 251).then_some(())
    })
    .await;
    assert_eq!(provider.balance_minor().await, 8192);
    assert_eq!(s.tenant(&d.consumer).balance_minor().await, 0);
    assert_eq!(count(&s, "SELECT count(*) FROM transfers WHERE reference = $1", &d.contract_id).await, 5);
    assert_eq!(
        count(&s, "SELECT count(*) FROM outbox WHERE subject = 'settlement.completed' AND payload::text <> $1", "")
            .await,
        1
    );
}

#[tokio::test]
async fn a_failed_contract_releases_the_hold_and_a_late_success_pays_nothing() {
    let s = Settlement::start().await;
    let d = deal();
    let consumer = s.tenant(&d.consumer);
    consumer.deposit("40.00").await;
    assert_eq!(s.service_caller().post("/internal/v1/holds", &hold_body(&d, "40.00")).await.0, 201);
    let bus = s.bus().await;
    bus.ensure_streams().await.unwrap();
    publish_outcome(&bus, "contract.failed", aex_types::EventId::new().as_str(), "f1", &d, false).await;
    aex_testkit::eventually(Duration::from_secs(20), "the release", || async {
        let (_, balance) = consumer.get("/v1/balance").await;
        (balance["held_minor"] == 0).then_some(())
    })
    .await;
    assert_eq!(consumer.balance_minor().await, 4000, "the consumer is whole again");
    let (_, view) = consumer.get(&format!("/v1/settlements/{}", d.contract_id)).await;
    assert_eq!(view["status"], "RELEASED");
    assert_eq!(view["release_reason"], "provider failed");

    publish_outcome(&bus, "contract.completed", aex_types::EventId::new().as_str(), "late", &d, true).await;
    aex_testkit::eventually(Duration::from_secs(20), "the late event consumed", || async {
        let pool = s.sut.pool().await;
        let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox").fetch_one(&pool).await.unwrap();
        (seen == 2).then_some(())
    })
    .await;
    assert_eq!(s.tenant(&d.provider_tenant).balance_minor().await, 0);
    assert_eq!(
        count(&s, "SELECT count(*) FROM outbox WHERE subject = 'settlement.released' AND payload::text <> $1", "")
            .await,
        1
    );
}
