//! Several settlement instances on one database (ADR 0014): one elected writer commits the
//! batches the others hand to it; every transfer takes effect once whichever instance it was
//! sent to, a stopped writer is replaced, and an unreachable writer costs a fallback, not an
//! answer.

use crate::{Settlement, tenant};
use aex_testkit::{RunningService, ServiceUnderTest, eventually};
use clap::Parser;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

/// Starts an instance on `sut`'s schema that advertises its own address.
async fn instance(sut: &ServiceUnderTest) -> Settlement {
    let args = sut.args();
    let service = aex_testkit::spawn_service(move |listener, shutdown| {
        let addr = listener.local_addr().expect("bound listener");
        let mut args = args;
        args.extend([
            "--advertise-url".to_string(),
            format!("http://{addr}"),
            "--ledger-writer-lease-seconds".to_string(),
            "1".to_string(),
        ]);
        let config = aex_settlement::Config::try_parse_from(args).expect("test configuration parses");
        aex_settlement::run(config, listener, shutdown)
    })
    .await;
    Settlement::from_parts(service, sut.clone())
}

impl Settlement {
    /// What `GET /internal/v1/ledger/writer` says, asked as another settlement instance.
    async fn writer_status(&self) -> Value {
        let token = self.tokens.mint("settlement", None, &[], None).unwrap();
        let (status, body) = crate::Caller { settlement: self, token }.get("/internal/v1/ledger/writer").await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn wait_for_role(&self, role: &str) -> Value {
        eventually(Duration::from_secs(15), &format!("the instance to be {role}"), || async {
            let status = self.writer_status().await;
            (status["role"] == role).then_some(status)
        })
        .await
    }
}

fn service(s: &Settlement) -> &RunningService {
    &s.service
}

/// Sends `count` one-cent transfers, each id twice at once to both instances, and returns the
/// ids that were answered 201 by at least one of them.
async fn pay_through_both(a: &Settlement, b: &Settlement, payer: &str, from: &str, to: &str, count: usize) -> usize {
    let mut tasks = Vec::new();
    for i in 0..count {
        for s in [a, b] {
            let url = service(s).url("/v1/transfers");
            let http = service(s).http.clone();
            let token = s.token(payer, &["read", "billing:write"]);
            let body =
                json!({ "id": format!("r-{i}"), "debit_account_id": from, "credit_account_id": to, "amount": "0.01" });
            tasks.push(tokio::spawn(async move {
                let response = http.post(url).bearer_auth(token).json(&body).send().await.unwrap();
                (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
            }));
        }
    }
    let mut applied = HashSet::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 201, "{body}");
        applied.insert(body["id"].as_str().unwrap().to_string());
    }
    applied.len()
}

#[tokio::test]
async fn followers_hand_their_batches_to_one_writer_and_every_transfer_counts_once() {
    let sut = ServiceUnderTest::new("aex-settlement", aex_settlement::SCHEMA);
    let a = instance(&sut).await;
    let a_status = a.wait_for_role("writer").await;
    let b = instance(&sut).await;
    let b_status = b.wait_for_role("follower").await;
    assert_eq!(b_status["writer"], a_status["instance"]);
    assert_eq!(b_status["writer_address"].as_str().unwrap().trim_end_matches('/'), service(&a).base_url);

    let (payer, payee) = (tenant(), tenant());
    a.tenant(&payer).deposit("10.00").await;
    let (from, to) = (a.tenant(&payer).account_id().await, b.tenant(&payee).account_id().await);

    let applied = pay_through_both(&a, &b, &payer, &from, &to, 150).await;
    assert_eq!(applied, 150);
    assert_eq!(a.tenant(&payee).balance_minor().await, 150, "each id moved money once");
    assert_eq!(b.tenant(&payer).balance_minor().await, 1000 - 150);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM transfers WHERE id LIKE 'r-%'")
        .fetch_one(&sut.pool().await)
        .await
        .unwrap();
    assert_eq!(rows, 150);

    let b_status = b.writer_status().await;
    let a_status = a.writer_status().await;
    assert!(b_status["handed_off_jobs"].as_u64().unwrap() > 0, "{b_status}");
    assert_eq!(b_status["committed_locally_after_failure"], 0, "{b_status}");
    assert_eq!(a_status["received_jobs"], b_status["handed_off_jobs"], "{a_status} {b_status}");

    let (status, verified) = a.admin().get("/v1/audit/journal/verify").await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["valid"], true, "{verified}");
}

#[tokio::test]
async fn a_stopped_writer_hands_over_and_its_follower_carries_on() {
    let sut = ServiceUnderTest::new("aex-settlement", aex_settlement::SCHEMA);
    let a = instance(&sut).await;
    a.wait_for_role("writer").await;
    let b = instance(&sut).await;
    b.wait_for_role("follower").await;
    let payer = tenant();
    let payer_account = b.tenant(&payer).account_id().await;
    b.tenant(&payer).deposit("5.00").await;

    a.service.stop().await;
    let status = b.wait_for_role("writer").await;
    assert_eq!(status["writer"], status["instance"]);
    let payee_account = b.tenant(&tenant()).account_id().await;
    let pay = json!({ "id": "after-handover", "debit_account_id": payer_account, "credit_account_id": payee_account, "amount": "1.00" });
    let (status, body) = b.tenant(&payer).post("/v1/transfers", &pay).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(b.tenant(&payer).balance_minor().await, 400);
}

#[tokio::test]
async fn an_unreachable_writer_costs_a_local_commit_not_an_answer() {
    let sut = ServiceUnderTest::new("aex-settlement", aex_settlement::SCHEMA);
    let b = instance(&sut).await;
    b.wait_for_role("writer").await;
    // A writer that holds the lease but cannot be reached (nothing listens there).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    sqlx::query("UPDATE ledger_writer SET holder = 'gone', address = $1, expires_at = now() + interval '1 hour'")
        .bind(&address)
        .execute(&sut.pool().await)
        .await
        .unwrap();
    let status = b.wait_for_role("follower").await;
    assert_eq!(status["writer"], "gone");

    let (payer, payee) = (tenant(), tenant());
    b.tenant(&payer).deposit("3.00").await;
    let (from, to) = (b.tenant(&payer).account_id().await, b.tenant(&payee).account_id().await);
    for i in 0..3 {
        let pay =
            json!({ "id": format!("u-{i}"), "debit_account_id": from, "credit_account_id": to, "amount": "1.00" });
        let (status, body) = b.tenant(&payer).post("/v1/transfers", &pay).await;
        assert_eq!(status, 201, "{body}");
    }
    assert_eq!(b.tenant(&payee).balance_minor().await, 300);
    let status = b.writer_status().await;
    assert!(status["committed_locally_after_failure"].as_u64().unwrap() >= 3, "{status}");

    // A tenant's token, or another service's, cannot reach the instances' own routes.
    let (status, _) = b.tenant(&payer).get("/internal/v1/ledger/writer").await;
    assert_eq!(status, 403);
    let (status, _) = b.tenant(&payer).post("/internal/v1/ledger/batches", &json!({ "jobs": [] })).await;
    assert_eq!(status, 403);
    let (status, body) = b.service_caller().post("/internal/v1/ledger/batches", &json!({ "jobs": [] })).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("SERVICE_ONLY")), "{body}");
    // Another instance's handoff that is not one is refused whole, and nothing is committed.
    let token = b.tokens.mint("settlement", None, &[], None).unwrap();
    let caller = crate::Caller { settlement: &b, token };
    let (status, body) = caller.post("/internal/v1/ledger/batches", &json!({ "jobs": [{ "requests": [{}] }] })).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("VALIDATION_ERROR")), "{body}");
    let (status, body) = caller.post("/internal/v1/ledger/batches", &json!({ "jobs": [] })).await;
    assert_eq!((status, body["results"].as_array().map(Vec::len)), (200, Some(0)), "{body}");
    assert_eq!(b.tenant(&payee).balance_minor().await, 300);
}
