//! Trust and reputation: outcome and settlement events recorded once per contract, recomputed
//! on every outcome and certificate change, and read through the public and internal routes.
//!
//! Expected scores are ratios computed in `f64`, as the domain computes them.
#![allow(clippy::float_arithmetic)]

use crate::{Certauth, issue, provider, tenant};
use aex_api::events::{ContractOutcome, SettlementCompleted};
use aex_common::events::{EventBus, EventEnvelope, NatsArgs};
use serde::Serialize;
use serde_json::{Value, json};
use std::time::Duration;

impl Certauth {
    pub async fn bus(&self) -> EventBus {
        let args = NatsArgs {
            nats_url: self.sut.nats_url.clone(),
            nats_namespace: self.sut.namespace.clone(),
            nats_stream_replicas: 1,
        };
        let bus = EventBus::connect(&args, "certauth-tests").await.unwrap();
        bus.ensure_streams().await.unwrap();
        bus
    }

    async fn scalar(&self, sql: &str, bind: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).bind(bind).fetch_one(&self.pool().await).await.unwrap()
    }

    /// Waits until the provider's snapshot counts `contracts` contracts.
    async fn await_contracts(&self, provider_id: &str, contracts: i64) {
        aex_testkit::eventually(Duration::from_secs(20), "the recomputed snapshot", || async {
            let n = self
                .scalar(
                    "SELECT coalesce(max(contracts), -1)::bigint FROM reputation_snapshots WHERE provider_id = $1",
                    provider_id,
                )
                .await;
            (n == contracts).then_some(())
        })
        .await;
    }

    async fn outbox_count(&self, subject: &str) -> i64 {
        self.scalar("SELECT count(*) FROM outbox WHERE subject = $1", subject).await
    }
}

/// Publishes one envelope (no `Nats-Msg-Id`, so every copy reaches the consumer).
async fn publish<T: Serialize>(bus: &EventBus, subject: &str, event_id: &str, data: T) {
    let envelope = EventEnvelope {
        event_id: event_id.to_string(),
        event_type: subject.to_string(),
        schema_version: 1,
        occurred_at: aex_types::Timestamp::now(),
        source: "work-publisher".into(),
        tenant_id: None,
        traceparent: None,
        data,
    };
    let body = serde_json::to_vec(&envelope).unwrap();
    bus.jetstream().publish(bus.subject(subject), body.into()).await.unwrap().await.unwrap();
}

struct Party {
    provider_id: String,
    provider_tenant: String,
}

fn party() -> Party {
    Party { provider_id: provider(), provider_tenant: tenant() }
}

fn outcome(p: &Party, contract_id: &str, success: bool) -> ContractOutcome {
    ContractOutcome {
        contract_id: contract_id.to_string(),
        work_id: "work_1".into(),
        consumer_tenant_id: tenant(),
        provider_tenant_id: p.provider_tenant.clone(),
        provider_id: p.provider_id.clone(),
        success,
        reason: (!success).then(|| "provider failed".to_string()),
    }
}

fn contract() -> String {
    aex_types::ContractId::new().to_string()
}

fn event_id() -> String {
    aex_types::EventId::new().to_string()
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 1e-9)
}

#[tokio::test]
async fn an_outcome_delivered_fifty_times_counts_once() {
    let c = Certauth::start().await;
    let bus = c.bus().await;
    let p = party();
    let contract_id = contract();
    let event = outcome(&p, &contract_id, true);
    let first = event_id();
    for n in 0..50 {
        // Most are redeliveries of one event; every fifth is a re-publication under a new id.
        let id = if n % 5 == 4 { event_id() } else { first.clone() };
        publish(&bus, "contract.completed", &id, &event).await;
    }
    aex_testkit::eventually(Duration::from_secs(30), "every copy consumed", || async {
        let seen = c.scalar("SELECT count(*) FROM inbox WHERE consumer = $1", "certauth-contracts").await;
        (seen == 11).then_some(())
    })
    .await;
    c.await_contracts(&p.provider_id, 1).await;
    assert_eq!(c.scalar("SELECT count(*) FROM provider_outcomes WHERE provider_id = $1", &p.provider_id).await, 1);
    assert_eq!(c.outbox_count("reputation.updated").await, 1, "one recompute for one contract");
    assert_eq!(c.outbox_count("trust.score_updated").await, 1);
    let (status, trust) = c.tenant(&tenant()).get(&format!("/v1/providers/{}/trust", p.provider_id)).await;
    assert_eq!(status, 200, "{trust}");
    assert_eq!((trust["contracts"].as_i64(), trust["successes"].as_i64()), (Some(1), Some(1)));
    assert!(close(&trust["trust_score"], 2.0 / 3.0), "{trust}");
    c.service.stop().await;
}

#[tokio::test]
async fn completions_raise_the_score_and_a_failure_lowers_it() {
    let c = Certauth::start().await;
    let bus = c.bus().await;
    let p = party();
    let reader = c.tenant(&tenant());
    let path = format!("/v1/providers/{}/reputation", p.provider_id);
    let (status, error) = reader.get(&path).await;
    assert_eq!((status, error["error"]["code"].as_str()), (404, Some("NOT_FOUND")));

    publish(&bus, "contract.completed", &event_id(), outcome(&p, &contract(), true)).await;
    c.await_contracts(&p.provider_id, 1).await;
    let (_, one) = reader.get(&path).await;
    for _ in 0..2 {
        publish(&bus, "contract.completed", &event_id(), outcome(&p, &contract(), true)).await;
    }
    c.await_contracts(&p.provider_id, 3).await;
    let (status, three) = reader.get(&path).await;
    assert_eq!(status, 200, "{three}");
    // Trust (1 + 3) / (2 + 3); success rate 1; volume ln 4 / ln 201; too few for consistency.
    let volume = 4f64.ln() / 201f64.ln();
    assert!(close(&three["components"]["transaction"], 0.8), "{three}");
    assert!(close(&three["components"]["volume"], volume), "{three}");
    assert!(close(&three["score"], 0.35 * 0.8 + 0.25 + 0.15 * volume), "{three}");
    assert!(three["score"].as_f64() > one["score"].as_f64(), "more successes, higher score");
    assert_eq!(three["tier"], "BRONZE", "three contracts are too few for SILVER");
    assert_eq!(three["flags"], json!([]));

    publish(&bus, "contract.failed", &event_id(), outcome(&p, &contract(), false)).await;
    c.await_contracts(&p.provider_id, 4).await;
    let (_, four) = reader.get(&path).await;
    assert!(close(&four["components"]["transaction"], 4.0 / 6.0), "{four}");
    assert!(close(&four["components"]["success_rate"], 0.75), "{four}");
    assert!(four["score"].as_f64() < three["score"].as_f64(), "a failure lowers the score");
    let (_, trust) = reader.get(&format!("/v1/providers/{}/trust", p.provider_id)).await;
    assert_eq!((trust["failures"].as_i64(), trust["half_life_days"].as_f64()), (Some(1), Some(30.0)));
    assert_eq!(c.outbox_count("reputation.updated").await, 4);
    assert_eq!(c.outbox_count("trust.tier_changed").await, 1, "only the first BRONZE is a change");
    c.service.stop().await;
}

#[tokio::test]
async fn a_settlement_adds_its_price_once_in_either_order() {
    let c = Certauth::start().await;
    let bus = c.bus().await;
    let p = party();
    let settled = |contract_id: &str| SettlementCompleted {
        contract_id: contract_id.to_string(),
        work_id: None,
        category: None,
        consumer_tenant_id: tenant(),
        provider_tenant_id: p.provider_tenant.clone(),
        provider_id: p.provider_id.clone(),
        currency: "USD".into(),
        price_minor: 10_000,
        platform_fee_minor: 1500,
        protocol_fee_minor: 308,
        payout_minor: 8192,
        tier: "starter".into(),
        journal_seq: 1,
    };
    // The outcome first, then the settlement twice under two event ids.
    let first = contract();
    publish(&bus, "contract.completed", &event_id(), outcome(&p, &first, true)).await;
    c.await_contracts(&p.provider_id, 1).await;
    publish(&bus, "settlement.completed", &event_id(), settled(&first)).await;
    publish(&bus, "settlement.completed", &event_id(), settled(&first)).await;
    // A settlement before its outcome creates the success; the late outcome changes nothing.
    let second = contract();
    publish(&bus, "settlement.completed", &event_id(), settled(&second)).await;
    c.await_contracts(&p.provider_id, 2).await;
    publish(&bus, "contract.failed", &event_id(), outcome(&p, &second, false)).await;
    aex_testkit::eventually(Duration::from_secs(20), "every event consumed", || async {
        let seen = c.scalar("SELECT count(*) FROM inbox WHERE subject LIKE $1", "%.%").await;
        (seen == 5).then_some(())
    })
    .await;
    let priced = c
        .scalar(
            "SELECT count(*) FROM provider_outcomes WHERE provider_id = $1 AND success AND price_minor = 10000",
            &p.provider_id,
        )
        .await;
    assert_eq!(priced, 2);
    // Outcome, first settlement, second contract's settlement: three recomputes.
    assert_eq!(c.outbox_count("reputation.updated").await, 3);
    c.service.stop().await;
}

#[tokio::test]
async fn a_certificate_raises_certification_and_revoking_it_removes_the_boost_at_once() {
    let c = Certauth::start().await;
    let (owner, p) = (tenant(), provider());
    let reader = c.tenant(&tenant());
    let path = format!("/v1/providers/{p}/reputation");
    let cert = issue(&c, &owner, &p).await;
    // Read right after the approval answered: the recompute committed with the issuance.
    let (status, certified) = reader.get(&path).await;
    assert_eq!(status, 200, "{certified}");
    // Two certified capabilities: 0.8 + 0.05; no outcomes: 0.35 · 0.5 + 0.10 · 0.85.
    assert!(close(&certified["components"]["certification"], 0.85), "{certified}");
    assert!(close(&certified["score"], 0.175 + 0.085), "{certified}");
    assert_eq!(certified["certified_capabilities"].as_array().unwrap().len(), 2);

    let id = cert["certificate_id"].as_str().unwrap();
    let (status, renewed) = c.tenant(&owner).post(&format!("/v1/certificates/{id}/renew"), &json!({})).await;
    assert_eq!(status, 201, "{renewed}");
    let (_, after_renewal) = reader.get(&path).await;
    assert!(close(&after_renewal["components"]["certification"], 0.85), "the successor carries the boost");

    let renewed_id = renewed["certificate_id"].as_str().unwrap();
    let (status, body) = c
        .tenant(&owner)
        .delete(&format!("/v1/certificates/{renewed_id}"), &json!({ "reason": "key compromise" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, revoked) = reader.get(&path).await;
    assert!(close(&revoked["components"]["certification"], 0.0), "{revoked}");
    assert!(close(&revoked["score"], 0.175), "{revoked}");
    assert_eq!(revoked["certified_capabilities"], json!([]));
    assert_eq!(c.outbox_count("reputation.updated").await, 3, "issue, renew, revoke");
    c.service.stop().await;
}

#[tokio::test]
async fn revoking_a_ca_key_version_removes_the_boost_of_what_it_signed() {
    let c = Certauth::start().await;
    let p = provider();
    issue(&c, &tenant(), &p).await;
    let (status, body) = c.admin().post("/v1/ca/keys/1/revoke", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (_, view) = c.tenant(&tenant()).get(&format!("/v1/providers/{p}/reputation")).await;
    assert!(close(&view["components"]["certification"], 0.0), "{view}");
    c.service.stop().await;
}

async fn insert_snapshot(c: &Certauth, provider_id: &str, score: f64, contracts: i32) {
    sqlx::query(
        "INSERT INTO reputation_snapshots (provider_id, score, trust_score, transaction_score, success_rate, volume,
             consistency, certification, tier, contracts, successes)
         VALUES ($1, $2, 0.5, 0.5, 0, 0, 0, 0, 'BRONZE', $3, 0)",
    )
    .bind(provider_id)
    .bind(score)
    .bind(contracts)
    .execute(&c.pool().await)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_leaderboard_orders_by_score_then_contracts_then_id_within_bounds() {
    let c = Certauth::start().await;
    for (id, score, contracts) in
        [("prov_c", 0.5, 10), ("prov_a", 0.9, 5), ("prov_b", 0.5, 10), ("prov_d", 0.5, 40), ("prov_e", 0.1, 0)]
    {
        insert_snapshot(&c, id, score, contracts).await;
    }
    let reader = c.tenant(&tenant());
    let (status, board) = reader.get("/v1/reputation/leaderboard").await;
    assert_eq!(status, 200, "{board}");
    let order: Vec<&str> =
        board["providers"].as_array().unwrap().iter().map(|e| e["provider_id"].as_str().unwrap()).collect();
    assert_eq!(order, ["prov_a", "prov_d", "prov_b", "prov_c", "prov_e"]);
    assert_eq!((board["total"].as_i64(), board["limit"].as_i64()), (Some(5), Some(20)));

    let (_, page) = reader.get("/v1/reputation/leaderboard?limit=2&offset=2").await;
    let ranks: Vec<(i64, &str)> = page["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["rank"].as_i64().unwrap(), e["provider_id"].as_str().unwrap()))
        .collect();
    assert_eq!(ranks, [(3, "prov_b"), (4, "prov_c")]);
    let (_, beyond) = reader.get("/v1/reputation/leaderboard?offset=100").await;
    assert_eq!((beyond["providers"].as_array().unwrap().len(), beyond["total"].as_i64()), (0, Some(5)));
    let (status, _) = reader.get("/v1/reputation/leaderboard?limit=100").await;
    assert_eq!(status, 200);
    for bad in ["limit=0", "limit=101", "offset=-1", "limit=abc", "offset=1e99"] {
        let (status, _) = reader.get(&format!("/v1/reputation/leaderboard?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
    }
    let (status, _) = c.anonymous().get("/v1/reputation/leaderboard").await;
    assert_eq!(status, 401);
    c.service.stop().await;
}

#[tokio::test]
async fn the_batch_trust_route_answers_services_with_scores_tiers_and_capabilities() {
    let c = Certauth::start().await;
    let p = provider();
    issue(&c, &tenant(), &p).await;
    let unknown = provider();
    let body = json!({ "provider_ids": [p, unknown, p] });
    let (status, answer) = c.service_caller().post("/internal/v1/providers/trust", &body).await;
    assert_eq!(status, 200, "{answer}");
    let entry = &answer["providers"][&p];
    assert!(close(&entry["score"], 0.26), "{answer}");
    assert_eq!(entry["tier"], "BRONZE");
    assert_eq!(
        entry["certified_capabilities"],
        json!([
            { "category": "summarization", "capability": "*" },
            { "category": "translation", "capability": "en-de" }
        ])
    );
    assert_eq!(answer["unknown"], json!([unknown]));
    assert_eq!(answer["providers"].as_object().unwrap().len(), 1);

    let (status, error) = c.tenant(&tenant()).post("/internal/v1/providers/trust", &body).await;
    assert_eq!((status, error["error"]["code"].as_str()), (403, Some("INSUFFICIENT_SCOPE")), "not through the gateway");
    let too_many: Vec<String> = (0..1001).map(|n| format!("prov_{n}")).collect();
    let thousand: Vec<String> = (0..1000).map(|n| format!("prov_{n}")).collect();
    let (status, _) =
        c.service_caller().post("/internal/v1/providers/trust", &json!({ "provider_ids": thousand })).await;
    assert_eq!(status, 200);
    for bad in [
        json!({ "provider_ids": [] }),
        json!({ "provider_ids": too_many }),
        json!({ "provider_ids": ["has space"] }),
        json!({ "provider_ids": ["x".repeat(129)] }),
        json!({ "provider_ids": [5] }),
        json!({}),
    ] {
        let (status, error) = c.service_caller().post("/internal/v1/providers/trust", &bad).await;
        assert_eq!(status, 400, "{bad}: {error}");
    }
    c.service.stop().await;
}

#[tokio::test]
async fn reputation_routes_refuse_bad_ids_unknown_providers_and_anonymous_callers() {
    let c = Certauth::start().await;
    let reader = c.tenant(&tenant());
    for route in ["reputation", "trust"] {
        let (status, error) = reader.get(&format!("/v1/providers/{}/{route}", provider())).await;
        assert_eq!((status, error["error"]["code"].as_str()), (404, Some("NOT_FOUND")), "{route}");
        let long = "p".repeat(129);
        for bad in ["bad%20id", long.as_str(), "semi%3Bcolon"] {
            let (status, error) = reader.get(&format!("/v1/providers/{bad}/{route}")).await;
            assert_eq!((status, error["error"]["code"].as_str()), (400, Some("VALIDATION_ERROR")), "{route} {bad}");
        }
        let (status, _) = c.anonymous().get(&format!("/v1/providers/{}/{route}", provider())).await;
        assert_eq!(status, 401);
    }
    c.service.stop().await;
}

#[tokio::test]
async fn an_expired_certificate_and_a_day_of_decay_refresh_the_snapshot() {
    let (service, sut) = crate::start().await;
    service.stop().await;
    let service = crate::start_on(&sut, &["--ca-kek", crate::TEST_KEK, "--reputation-refresh-seconds", "1"]).await;
    let tokens = aex_common::auth::ServiceTokens::new(
        &aex_common::secret::Secret::new(sut.token_secret.clone()),
        Duration::from_secs(300),
    )
    .unwrap();
    let c = Certauth { service, sut, tokens };
    let p = provider();
    issue(&c, &tenant(), &p).await;
    let pool = c.pool().await;
    let expiry: Option<time::OffsetDateTime> =
        sqlx::query_scalar("SELECT certification_expires_at FROM reputation_snapshots WHERE provider_id = $1")
            .bind(&p)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(expiry.is_some(), "the snapshot knows when its boost lapses");
    // Time passes: the certificate's validity ends.
    sqlx::query("UPDATE certificates SET not_after = now() - interval '1 second' WHERE provider_id = $1")
        .bind(&p)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE reputation_snapshots SET certification_expires_at = now() - interval '1 second' WHERE provider_id = $1",
    )
    .bind(&p)
    .execute(&pool)
    .await
    .unwrap();
    let reader = c.tenant(&tenant());
    let view = aex_testkit::eventually(Duration::from_secs(15), "the expired boost removed", || async {
        let (_, view) = reader.get(&format!("/v1/providers/{p}/reputation")).await;
        close(&view["components"]["certification"], 0.0).then_some(view)
    })
    .await;
    assert!(close(&view["score"], 0.175), "{view}");
    let expiry: Option<time::OffsetDateTime> =
        sqlx::query_scalar("SELECT certification_expires_at FROM reputation_snapshots WHERE provider_id = $1")
            .bind(&p)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(expiry, None);

    // A provider with contracts whose snapshot is two days old is recomputed (trust decays).
    insert_snapshot(&c, "prov_stale", 0.9, 12).await;
    sqlx::query(
        "UPDATE reputation_snapshots SET updated_at = now() - interval '2 days' WHERE provider_id = 'prov_stale'",
    )
    .execute(&pool)
    .await
    .unwrap();
    aex_testkit::eventually(Duration::from_secs(15), "the stale snapshot recomputed", || async {
        let score: f64 = sqlx::query_scalar("SELECT score FROM reputation_snapshots WHERE provider_id = 'prov_stale'")
            .fetch_one(&pool)
            .await
            .unwrap();
        // No outcomes are recorded for it, so the recompute gives the no-history score.
        (score < 0.5).then_some(())
    })
    .await;
    c.service.stop().await;
}

#[tokio::test]
async fn outcomes_and_certificate_changes_racing_for_one_provider_leave_a_complete_snapshot() {
    let c = Certauth::start().await;
    let bus = c.bus().await;
    let owner = tenant();
    let p = Party { provider_id: provider(), provider_tenant: owner.clone() };
    let mut requests = Vec::new();
    for _ in 0..4 {
        requests.push(c.tenant(&owner).request(&p.provider_id).await.0);
    }
    let publishing = async {
        for _ in 0..30 {
            publish(&bus, "contract.completed", &event_id(), outcome(&p, &contract(), true)).await;
        }
    };
    let approving = approve_all(&c, &requests);
    tokio::join!(publishing, approving);
    c.await_contracts(&p.provider_id, 30).await;
    let (_, view) = c.tenant(&tenant()).get(&format!("/v1/providers/{}/reputation", p.provider_id)).await;
    assert_eq!((view["contracts"].as_i64(), view["successes"].as_i64()), (Some(30), Some(30)), "{view}");
    // Four certificates with the same two capabilities: two distinct pairs.
    assert!(close(&view["components"]["certification"], 0.85), "{view}");
    assert!(close(&view["components"]["transaction"], 31.0 / 32.0), "{view}");
    c.service.stop().await;
}

/// Approves every request, concurrently.
async fn approve_all(c: &Certauth, requests: &[String]) {
    let admin = c.admin();
    let approvals = requests.iter().map(|id| {
        let admin = &admin;
        async move {
            let (status, body) = admin.post(&format!("/v1/certificates/requests/{id}/approve"), &json!({})).await;
            assert_eq!(status, 200, "{body}");
        }
    });
    for approval in approvals.collect::<Vec<_>>() {
        // Each approval races the consumer; they run one after another among themselves.
        approval.await;
    }
}
