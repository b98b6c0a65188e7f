//! Awards and the contract lifecycle with the real settlement service holding, paying out and
//! releasing escrow, and the real evaluator ranking the bids.

use crate::market::{Market, Options};
use crate::{assert_error, tenant};
use serde_json::{Value, json};
use std::time::Duration;

async fn contract_status(m: &Market, contract_id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM contracts WHERE id = $1")
        .bind(contract_id)
        .fetch_one(&m.p.pool)
        .await
        .unwrap()
}

async fn work_status(m: &Market, work_id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM work WHERE id = $1").bind(work_id).fetch_one(&m.p.pool).await.unwrap()
}

async fn live_contracts(m: &Market, work_id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM contracts WHERE work_id = $1 AND status <> 'ABORTED'")
        .bind(work_id)
        .fetch_one(&m.p.pool)
        .await
        .unwrap()
}

fn id(body: &Value, field: &str) -> String {
    body[field].as_str().unwrap_or_else(|| panic!("{field} missing in {body}")).to_string()
}

#[tokio::test]
async fn the_best_ranked_bid_wins_escrow_is_held_and_completion_pays_out_to_the_cent() {
    let m = Market::start().await;
    let s = m.closed_work(Some("100.00"), &["40.00", "25.00", "30.00"], false).await;
    m.wait_evaluated(&s.work_id).await;
    let owner = m.p.tenant(&s.consumer);

    let (status, contract) = owner.post(&format!("/v1/work/{}/award", s.work_id), &json!({ "auto_award": true })).await;
    assert_eq!(status, 201, "{contract}");
    assert_eq!(contract["status"], "AWARDED");
    assert_eq!(contract["agreed_price"], "25.00", "the evaluator's best bid: equal quality, lowest price");
    assert_eq!(contract["agreed_price_minor"], 2500);
    assert_eq!(contract["bid_id"], s.bids[1].bid_id);
    assert_eq!(contract["provider_id"], s.bids[1].provider_id);
    assert_eq!(contract["provider_endpoint"], "https://agent.example.com/a2a");
    assert_eq!(contract["awarded_by"], "consumer");
    assert!(contract["expires_at"].as_str().is_some() && contract["awarded_at"].as_str().is_some());
    let contract_id = id(&contract, "contract_id");
    assert_eq!(work_status(&m, &s.work_id).await, "AWARDED");
    assert_eq!(m.balance(&s.consumer).await, (7500, 2500, 10000), "the price is held, not spent");
    let awarded = m.p.events("contract.awarded").await;
    assert_eq!(awarded.len(), 1);
    assert_eq!(awarded[0]["contract_id"], contract_id.as_str());
    assert_eq!(awarded[0]["agreed_price_minor"], 2500);
    let statuses: Vec<String> = sqlx::query_scalar("SELECT status FROM bids WHERE work_id = $1 ORDER BY price_minor")
        .bind(&s.work_id)
        .fetch_all(&m.p.pool)
        .await
        .unwrap();
    assert_eq!(statuses, ["ACCEPTED", "REJECTED", "REJECTED"]);

    // Both parties see the contract; nobody else does.
    let winner = m.p.tenant(&s.bids[1].tenant);
    let loser = m.p.tenant(&s.bids[0].tenant);
    let path = format!("/v1/contracts/{contract_id}");
    assert_eq!(owner.get(&path).await.0, 200);
    assert_eq!(winner.get(&path).await.0, 200);
    assert_error(&loser.get(&path).await, 404, "NOT_FOUND");
    assert_error(&m.p.tenant(&tenant()).get(&path).await, 404, "NOT_FOUND");

    // Only the winning provider reports progress; the first report starts execution.
    assert_error(&owner.post(&format!("{path}/progress"), &json!({ "percent": 10 })).await, 403, "NOT_ALLOWED");
    assert_error(&loser.post(&format!("{path}/progress"), &json!({ "percent": 10 })).await, 404, "NOT_FOUND");
    assert_error(
        &winner.post(&format!("{path}/complete"), &json!({ "success": true })).await,
        409,
        "INVALID_CONTRACT_STATE",
    );
    let (status, progressed) =
        winner.post(&format!("{path}/progress"), &json!({ "status": "translating", "percent": 40 })).await;
    assert_eq!(status, 200, "{progressed}");
    assert_eq!(progressed["status"], "EXECUTING");
    assert_eq!(progressed["progress"]["percent"], 40);
    assert_eq!(work_status(&m, &s.work_id).await, "EXECUTING");
    assert_eq!(m.p.events("contract.started").await.len(), 1);
    assert_error(&owner.post(&format!("{path}/complete"), &json!({ "success": true })).await, 403, "NOT_ALLOWED");

    let (status, done) = winner
        .post(
            &format!("{path}/complete"),
            &json!({ "success": true, "result_summary": "done", "metrics": { "pages": 3 },
                     "result_location": "https://agent.example.com/results/1" }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["settlement_initiated"], true);
    assert_eq!(work_status(&m, &s.work_id).await, "COMPLETED");

    // Settlement pays out from the escrow: price = payout + platform fee + protocol fee.
    let settled = m.wait_settlement(&s.consumer, &contract_id, "SETTLED").await;
    let payout = settled["payout_minor"].as_i64().unwrap();
    let fees = settled["platform_fee_minor"].as_i64().unwrap() + settled["protocol_fee_minor"].as_i64().unwrap();
    assert_eq!(payout + fees, 2500, "{settled}");
    assert_eq!(m.balance(&s.consumer).await, (7500, 0, 7500));
    assert_eq!(m.balance(&s.bids[1].tenant).await.0, payout);

    // Terminal is final: a repeated completion, progress or failure is refused and settles nothing.
    for (action, body) in [
        ("complete", json!({ "success": true })),
        ("progress", json!({ "percent": 100 })),
        ("fail", json!({ "reason": "late" })),
    ] {
        assert_error(&winner.post(&format!("{path}/{action}"), &body).await, 409, "INVALID_CONTRACT_STATE");
    }
    assert_eq!(m.p.events("contract.completed").await.len(), 1);
    assert_error(
        &owner.post(&format!("{path}/fail"), &json!({ "reason": "late" })).await,
        409,
        "INVALID_CONTRACT_STATE",
    );
    m.stop().await;
}

#[tokio::test]
async fn a_failed_contract_releases_the_hold_and_the_consumer_is_whole_again() {
    let m = Market::start_with(Options { evaluator: false, ..Options::default() }).await;
    let s = m.closed_work(Some("50.00"), &["20.00"], false).await;
    let owner = m.p.tenant(&s.consumer);
    let (status, contract) =
        owner.post(&format!("/v1/work/{}/award", s.work_id), &json!({ "bid_id": s.bids[0].bid_id })).await;
    assert_eq!(status, 201, "{contract}");
    let contract_id = id(&contract, "contract_id");
    assert_eq!(m.balance(&s.consumer).await, (3000, 2000, 5000));

    // The consumer fails it before the provider started.
    let (status, failed) = owner
        .post(
            &format!("/v1/contracts/{contract_id}/fail"),
            &json!({ "reason": "no_longer_needed", "message": "plans changed", "reported_by": "consumer" }),
        )
        .await;
    assert_eq!(status, 200, "{failed}");
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["failed_by"], "consumer");
    assert_eq!(failed["failure_reason"], "no_longer_needed");
    assert_eq!(work_status(&m, &s.work_id).await, "FAILED");
    m.wait_settlement(&s.consumer, &contract_id, "RELEASED").await;
    assert_eq!(m.balance(&s.consumer).await, (5000, 0, 5000), "the consumer is whole again");
    assert_eq!(m.balance(&s.bids[0].tenant).await.2, 0, "the provider got nothing");
    let failed_events = m.p.events("contract.failed").await;
    assert_eq!(failed_events.len(), 1);
    assert_eq!(failed_events[0]["success"], false);
    assert_eq!(failed_events[0]["reason"], "no_longer_needed");
    m.stop().await;
}

#[tokio::test]
async fn a_provider_reporting_failure_at_completion_returns_the_escrow() {
    let m = Market::start_with(Options { evaluator: false, ..Options::default() }).await;
    let s = m.closed_work(Some("50.00"), &["20.00"], false).await;
    let (_, contract) =
        m.p.tenant(&s.consumer)
            .post(&format!("/v1/work/{}/award", s.work_id), &json!({ "bid_id": s.bids[0].bid_id }))
            .await;
    let contract_id = id(&contract, "contract_id");
    let provider = m.p.tenant(&s.bids[0].tenant);
    assert_eq!(provider.post(&format!("/v1/contracts/{contract_id}/progress"), &json!({})).await.0, 200);
    let (status, done) = provider
        .post(
            &format!("/v1/contracts/{contract_id}/complete"),
            &json!({ "success": false, "result_summary": "source unreadable" }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "FAILED");
    assert_eq!(done["settlement_initiated"], false);
    m.wait_settlement(&s.consumer, &contract_id, "RELEASED").await;
    assert_eq!(m.balance(&s.consumer).await, (5000, 0, 5000));
    assert!(m.p.events("contract.completed").await.is_empty(), "a failed completion is reported as a failure");
    m.stop().await;
}

#[tokio::test]
async fn a_contract_past_its_deadline_expires_by_timer_and_its_hold_is_released() {
    let m = Market::start_with(Options { evaluator: false, contract_ttl_seconds: 2, ..Options::default() }).await;
    let s = m.closed_work(Some("50.00"), &["20.00"], false).await;
    let (_, contract) =
        m.p.tenant(&s.consumer)
            .post(&format!("/v1/work/{}/award", s.work_id), &json!({ "bid_id": s.bids[0].bid_id }))
            .await;
    let contract_id = id(&contract, "contract_id");
    let provider = m.p.tenant(&s.bids[0].tenant);
    assert_eq!(provider.post(&format!("/v1/contracts/{contract_id}/progress"), &json!({ "percent": 5 })).await.0, 200);

    aex_testkit::eventually(Duration::from_secs(15), "the contract to expire", || async {
        (contract_status(&m, &contract_id).await == "EXPIRED").then_some(())
    })
    .await;
    assert_eq!(work_status(&m, &s.work_id).await, "FAILED");
    m.wait_settlement(&s.consumer, &contract_id, "RELEASED").await;
    assert_eq!(m.balance(&s.consumer).await, (5000, 0, 5000));
    let failed = m.p.events("contract.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["reason"], "expired");
    assert_error(
        &provider.post(&format!("/v1/contracts/{contract_id}/complete"), &json!({ "success": true })).await,
        409,
        "INVALID_CONTRACT_STATE",
    );
    m.stop().await;
}

#[tokio::test]
async fn without_funds_the_award_is_refused_with_402_and_leaves_no_contract() {
    let m = Market::start_with(Options { evaluator: false, ..Options::default() }).await;
    let s = m.closed_work(Some("10.00"), &["20.00"], false).await;
    let owner = m.p.tenant(&s.consumer);
    let award = format!("/v1/work/{}/award", s.work_id);
    let body = json!({ "bid_id": s.bids[0].bid_id });
    assert_error(&owner.post(&award, &body).await, 402, "INSUFFICIENT_FUNDS");
    assert_eq!(live_contracts(&m, &s.work_id).await, 0);
    assert_eq!(work_status(&m, &s.work_id).await, "EVALUATING");
    assert!(m.p.events("contract.awarded").await.is_empty());
    assert_eq!(m.balance(&s.consumer).await, (1000, 0, 1000));

    // With enough money the same award goes through.
    m.deposit(&s.consumer, "10.00").await;
    let (status, contract) = owner.post(&award, &body).await;
    assert_eq!(status, 201, "{contract}");
    assert_eq!(m.balance(&s.consumer).await, (0, 2000, 2000));
    assert_error(&owner.post(&award, &body).await, 409, "WORK_ALREADY_AWARDED");
    m.stop().await;
}

#[tokio::test]
async fn settlement_unreachable_answers_503_and_nothing_is_half_done() {
    let m = Market::start_with(Options {
        evaluator: false,
        settlement_url: Some("http://127.0.0.1:9".into()),
        ..Options::default()
    })
    .await;
    let s = m.closed_work(Some("50.00"), &["20.00"], false).await;
    let owner = m.p.tenant(&s.consumer);
    let award = format!("/v1/work/{}/award", s.work_id);
    assert_error(&owner.post(&award, &json!({ "bid_id": s.bids[0].bid_id })).await, 503, "SETTLEMENT_UNAVAILABLE");
    assert_eq!(live_contracts(&m, &s.work_id).await, 0);
    assert_eq!(work_status(&m, &s.work_id).await, "EVALUATING");
    assert!(m.p.events("contract.awarded").await.is_empty());
    assert_eq!(m.balance(&s.consumer).await, (5000, 0, 5000));
    // The owner may still cancel: no award is pending.
    let (status, cancelled) = owner.post(&format!("/v1/work/{}/cancel", s.work_id), &json!({})).await;
    assert_eq!(status, 200, "{cancelled}");
    m.stop().await;
}

#[tokio::test]
async fn five_hundred_concurrent_awards_make_one_contract_and_one_hold() {
    let m = Market::start_with(Options { evaluator: false, ..Options::default() }).await;
    let s = m.closed_work(Some("100.00"), &["20.00", "30.00"], false).await;
    let owner = m.p.tenant(&s.consumer);
    let award = format!("/v1/work/{}/award", s.work_id);
    let results = futures::future::join_all((0..500).map(|i| {
        let body = json!({ "bid_id": s.bids[i % 2].bid_id });
        let owner = &owner;
        let award = &award;
        async move { owner.post(award, &body).await }
    }))
    .await;
    let created: Vec<&(u16, Value)> = results.iter().filter(|r| r.0 == 201).collect();
    assert_eq!(created.len(), 1, "exactly one award succeeds");
    for refused in results.iter().filter(|r| r.0 != 201) {
        assert_eq!(refused.0, 409, "{}", refused.1);
        let code = refused.1["error"]["code"].as_str().unwrap_or_default();
        assert!(code == "WORK_ALREADY_AWARDED" || code == "AWARD_IN_PROGRESS", "{}", refused.1);
    }
    assert_eq!(live_contracts(&m, &s.work_id).await, 1);
    assert_eq!(m.p.events("contract.awarded").await.len(), 1);
    let price = created[0].1["agreed_price_minor"].as_i64().unwrap();
    assert_eq!(m.balance(&s.consumer).await, (10000 - price, price, 10000), "one hold, of the winner's price");
    let holds: i64 = sqlx::query_scalar("SELECT count(*) FROM settlements WHERE consumer_tenant_id = $1")
        .bind(&s.consumer)
        .fetch_one(&m.settlement_pool)
        .await
        .unwrap();
    assert_eq!(holds, 1);
    m.stop().await;
}

#[tokio::test]
async fn auto_award_work_is_awarded_to_the_evaluators_best_bid_when_the_evaluation_arrives() {
    let m = Market::start().await;
    let s = m.closed_work(Some("100.00"), &["45.00", "35.00"], true).await;
    let contract_id: String = aex_testkit::eventually(Duration::from_secs(20), "the automatic award", || async {
        sqlx::query_scalar("SELECT id FROM contracts WHERE work_id = $1 AND status = 'AWARDED'")
            .bind(&s.work_id)
            .fetch_optional(&m.p.pool)
            .await
            .ok()
            .flatten()
    })
    .await;
    let (status, contract) = m.p.tenant(&s.consumer).get(&format!("/v1/contracts/{contract_id}")).await;
    assert_eq!(status, 200, "{contract}");
    assert_eq!(contract["awarded_by"], "auto");
    assert_eq!(contract["bid_id"], s.bids[1].bid_id);
    assert_eq!(m.balance(&s.consumer).await, (6500, 3500, 10000));
    // The owner's own award now finds the work taken.
    assert_error(
        &m.p.tenant(&s.consumer).post(&format!("/v1/work/{}/award", s.work_id), &json!({ "auto_award": true })).await,
        409,
        "WORK_ALREADY_AWARDED",
    );
    m.stop().await;
}

#[tokio::test]
async fn awards_that_the_state_machine_or_the_evaluation_forbid_are_refused_with_their_codes() {
    let m = Market::start().await;
    let owner_tenant = tenant();
    m.deposit(&owner_tenant, "100.00").await;
    let owner = m.p.tenant(&owner_tenant);

    // Still OPEN: the bids are sealed, nothing can be awarded.
    let open_work = owner.work("translation.legal").await;
    let provider_tenant = tenant();
    let provider = m.p.tenant(&provider_tenant);
    provider.provider(&crate::name("agent")).await;
    let (_, bid) = provider.bid(&open_work, "20.00").await;
    let bid_id = id(&bid, "bid_id");
    let award = format!("/v1/work/{open_work}/award");
    assert_error(&owner.post(&award, &json!({ "bid_id": bid_id })).await, 409, "INVALID_WORK_STATE");

    // Bad bodies and other tenants.
    assert_error(&owner.post(&award, &json!({})).await, 400, "VALIDATION_ERROR");
    assert_error(&owner.post(&award, &json!({ "bid_id": bid_id, "auto_award": true })).await, 400, "VALIDATION_ERROR");
    assert_error(&owner.post(&award, &json!({ "bid_id": "bid_nonsense" })).await, 404, "BID_NOT_FOUND");
    assert_error(&provider.post(&award, &json!({ "bid_id": bid_id })).await, 404, "NOT_FOUND");
    assert_error(&owner.post("/v1/work/work_nope/award", &json!({ "bid_id": bid_id })).await, 404, "NOT_FOUND");
    let no_scope = m.p.caller(&owner_tenant, &["read"]);
    assert_error(&no_scope.post(&award, &json!({ "bid_id": bid_id })).await, 403, "INSUFFICIENT_SCOPE");

    // Closed, but a bid the evaluation disqualified (over the budget) cannot win.
    let s = m.closed_work(Some("100.00"), &["20.00", "150.00"], false).await;
    m.wait_evaluated(&s.work_id).await;
    let owner2 = m.p.tenant(&s.consumer);
    let award2 = format!("/v1/work/{}/award", s.work_id);
    assert_error(&owner2.post(&award2, &json!({ "bid_id": s.bids[1].bid_id })).await, 409, "BID_DISQUALIFIED");
    // A cancelled work cannot be awarded.
    assert_eq!(owner2.post(&format!("/v1/work/{}/cancel", s.work_id), &json!({})).await.0, 200);
    assert_error(&owner2.post(&award2, &json!({ "bid_id": s.bids[0].bid_id })).await, 409, "INVALID_WORK_STATE");

    // Awarded work cannot be cancelled.
    let s = m.closed_work(Some("100.00"), &["20.00"], false).await;
    let owner3 = m.p.tenant(&s.consumer);
    let (status, _) =
        owner3.post(&format!("/v1/work/{}/award", s.work_id), &json!({ "bid_id": s.bids[0].bid_id })).await;
    assert_eq!(status, 201);
    assert_error(&owner3.post(&format!("/v1/work/{}/cancel", s.work_id), &json!({})).await, 409, "INVALID_WORK_STATE");

    // auto_award before any evaluation: nothing to go by.
    let m2 = Market::start_with(Options { evaluator: false, ..Options::default() }).await;
    let s = m2.closed_work(Some("100.00"), &["20.00"], false).await;
    assert_error(
        &m2.p.tenant(&s.consumer).post(&format!("/v1/work/{}/award", s.work_id), &json!({ "auto_award": true })).await,
        409,
        "EVALUATION_PENDING",
    );
    m2.stop().await;
    m.stop().await;
}

#[tokio::test]
async fn bad_lifecycle_reports_are_refused_and_change_nothing() {
    let m = Market::start_with(Options { evaluator: false, ..Options::default() }).await;
    let s = m.closed_work(Some("50.00"), &["20.00"], false).await;
    let (_, contract) =
        m.p.tenant(&s.consumer)
            .post(&format!("/v1/work/{}/award", s.work_id), &json!({ "bid_id": s.bids[0].bid_id }))
            .await;
    let path = format!("/v1/contracts/{}", id(&contract, "contract_id"));
    let provider = m.p.tenant(&s.bids[0].tenant);
    for (action, body) in [
        ("progress", json!({ "percent": 101 })),
        ("progress", json!({ "percent": -1 })),
        ("progress", json!({ "percent": "half" })),
        ("complete", json!({})),
        ("complete", json!({ "success": true, "metrics": [1, 2] })),
        ("complete", json!({ "success": true, "result_location": "ftp://x" })),
        ("fail", json!({})),
    ] {
        assert_error(&provider.post(&format!("{path}/{action}"), &body).await, 400, "VALIDATION_ERROR");
    }
    let bell = json!({ "reason": "bad\u{0007}" });
    assert_error(&provider.post(&format!("{path}/fail"), &bell).await, 400, "INVALID_CHARACTERS");
    assert_error(&provider.get("/v1/contracts/contract_nope").await, 404, "NOT_FOUND");
    assert_eq!(contract_status(&m, &id(&contract, "contract_id")).await, "AWARDED");
    assert_eq!(m.balance(&s.consumer).await, (3000, 2000, 5000));
    m.stop().await;
}

#[tokio::test]
async fn a_restart_during_an_open_window_still_closes_it_and_the_evaluation_runs() {
    let m = Market::start_with(Options { evaluator: false, ..Options::default() }).await;
    let consumer = tenant();
    let owner = m.p.tenant(&consumer);
    let mut body = crate::work_body("translation.legal");
    body["bid_window_ms"] = json!(5000);
    let (_, created) = owner.post("/v1/work", &body).await;
    let work_id = id(&created, "work_id");
    let provider = m.p.tenant(&tenant());
    provider.provider(&crate::name("agent")).await;
    assert_eq!(provider.bid(&work_id, "20.00").await.0, 201);

    let Market { p, settlement, .. } = m;
    let p = p.restart().await;
    p.wait_closed(&work_id).await;
    // The evaluator (started against the restarted service) picks the close event up.
    let evaluator = crate::market::start_evaluator(&p).await;
    aex_testkit::eventually(Duration::from_secs(20), "the evaluation after restart", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM evaluations WHERE work_id = $1")
            .bind(&work_id)
            .fetch_one(&p.pool)
            .await
            .ok()?;
        (n == 1).then_some(())
    })
    .await;
    let closes: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE subject = 'work.bid_window_closed'")
        .fetch_one(&p.pool)
        .await
        .unwrap();
    assert_eq!(closes, 1);
    evaluator.stop().await;
    p.service.stop().await;
    settlement.stop().await;
}
