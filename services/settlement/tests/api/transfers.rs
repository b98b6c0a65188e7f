//! Transfers between tenants: ownership, per-item results, two-phase, and conservation of
//! money under concurrent load with hot accounts.

use crate::{Settlement, tenant};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

#[tokio::test]
async fn a_tenant_pays_another_from_its_own_account_only() {
    let s = Settlement::start().await;
    let (a, b) = (s.tenant(&tenant()), s.tenant(&tenant()));
    a.deposit("100.00").await;
    let (a_acct, b_acct) = (a.account_id().await, b.account_id().await);

    let pay = json!({ "id": "pay-1", "debit_account_id": a_acct, "credit_account_id": b_acct, "amount": "30.00" });
    let (status, body) = a.post("/v1/transfers", &pay).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["amount_minor"], 3000);
    assert_eq!(b.balance_minor().await, 3000);
    assert_eq!(a.balance_minor().await, 7000);

    // Replaying the same transfer has no second effect; reusing its id differently is refused.
    let (status, replay) = a.post("/v1/transfers", &pay).await;
    assert_eq!(status, 201);
    assert_eq!(replay, body);
    let mut changed = pay.clone();
    changed["amount"] = json!("31.00");
    let (status, error) = a.post("/v1/transfers", &changed).await;
    assert_eq!(status, 409);
    assert_eq!(error["error"]["code"], "EXISTS_WITH_DIFFERENT_FIELDS");

    // B cannot spend from A's account, and cannot see it.
    let steal = json!({ "id": "steal", "debit_account_id": a_acct, "credit_account_id": b_acct, "amount": "1.00" });
    let (status, error) = b.post("/v1/transfers", &steal).await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "DEBIT_ACCOUNT_NOT_FOUND");
    let (status, _) = b.get(&format!("/v1/accounts/{a_acct}")).await;
    assert_eq!(status, 404);
    assert_eq!(a.balance_minor().await, 7000);
}

#[tokio::test]
async fn a_batch_answers_each_item_in_order_and_failures_do_not_fail_neighbours() {
    let s = Settlement::start().await;
    let (a, b) = (s.tenant(&tenant()), s.tenant(&tenant()));
    a.deposit("10.00").await;
    let (a_acct, b_acct) = (a.account_id().await, b.account_id().await);
    let item = |id: &str, amount: &str| json!({ "id": id, "debit_account_id": a_acct, "credit_account_id": b_acct, "amount": amount });
    let mut to_self = item("self", "1.00");
    to_self["credit_account_id"] = json!(a_acct);
    let mut linked = item("l1", "2.00");
    linked["linked"] = json!(true);
    let batch = json!({ "transfers": [
        item("b1", "4.00"),
        item("b2", "7.00"),
        to_self,
        linked,
        item("l2", "50.00"),
        item("b3", "6.00"),
        item("b1", "4.00"),
    ]});
    let (status, body) = a.post("/v1/transfers", &batch).await;
    assert_eq!(status, 200, "{body}");
    let results: Vec<&str> =
        body["results"].as_array().unwrap().iter().map(|r| r["result"].as_str().unwrap()).collect();
    assert_eq!(
        results,
        [
            "OK",
            "INSUFFICIENT_FUNDS",
            "ACCOUNTS_MUST_BE_DIFFERENT",
            "LINKED_TRANSFER_FAILED",
            "INSUFFICIENT_FUNDS",
            "OK",
            "EXISTS"
        ]
    );
    assert_eq!(body["committed"], 3);
    assert_eq!(a.balance_minor().await, 0);
    assert_eq!(b.balance_minor().await, 1000);
}

#[tokio::test]
async fn oversized_and_malformed_batches_are_refused_whole() {
    let s = Settlement::start().await;
    let a = s.tenant(&tenant());
    let acct = a.account_id().await;
    let items: Vec<Value> = (0..8190)
        .map(|n| json!({ "id": format!("x{n}"), "debit_account_id": acct, "credit_account_id": "acct_x", "amount": "1.00" }))
        .collect();
    let (status, error) = a.post("/v1/transfers", &json!({ "transfers": items })).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "BATCH_SIZE_INVALID");
    let (status, error) = a.post("/v1/transfers", &json!([])).await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("BATCH_SIZE_INVALID")));
    let bad = json!([{ "id": "ok", "debit_account_id": acct, "credit_account_id": "acct_x", "amount": "1.00" },
                     { "id": "bad", "debit_account_id": acct, "credit_account_id": "acct_x", "amount": "1.001" }]);
    let (status, error) = a.post("/v1/transfers", &bad).await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("TOO_MANY_FRACTION_DIGITS")));
    let unknown_field = json!({ "id": "u", "debit_account_id": acct, "credit_account_id": "acct_x", "amount": "1.00", "tenant_id": "tenant_other" });
    let (status, error) = a.post("/v1/transfers", &unknown_field).await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("VALIDATION_ERROR")));
    let pool = s.sut.pool().await;
    let written: i64 = sqlx::query_scalar("SELECT count(*) FROM transfers").fetch_one(&pool).await.unwrap();
    assert_eq!(written, 0);
}

#[tokio::test]
async fn two_phase_transfers_resolve_exactly_once_and_lapse_at_their_timeout() {
    let s = Settlement::start().await;
    let (a, b) = (s.tenant(&tenant()), s.tenant(&tenant()));
    a.deposit("100.00").await;
    let (a_acct, b_acct) = (a.account_id().await, b.account_id().await);
    let hold = |id: &str, amount: &str, timeout: Option<u32>| {
        json!({ "id": id, "debit_account_id": a_acct, "credit_account_id": b_acct, "amount": amount,
                "pending": true, "timeout_seconds": timeout })
    };
    let (status, body) = a.post("/v1/transfers", &hold("h1", "60.00", None)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["pending_status"], "pending");
    let (_, balance) = a.get("/v1/balance").await;
    assert_eq!((balance["balance_minor"].as_i64(), balance["held_minor"].as_i64()), (Some(10000), Some(6000)));
    assert_eq!(balance["available_minor"], 4000);

    let post = json!({ "id": "p1", "post_pending_id": "h1", "amount": "60.00" });
    assert_eq!(a.post("/v1/transfers", &post).await.0, 201);
    let (status, error) =
        a.post("/v1/transfers", &json!({ "id": "p2", "post_pending_id": "h1", "amount": "60.00" })).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("PENDING_TRANSFER_ALREADY_POSTED")));
    let (status, error) = a.post("/v1/transfers", &json!({ "id": "v1", "void_pending_id": "h1" })).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("PENDING_TRANSFER_ALREADY_POSTED")));
    assert_eq!(b.balance_minor().await, 6000);

    // B may not resolve A's hold.
    assert_eq!(a.post("/v1/transfers", &hold("h2", "10.00", None)).await.0, 201);
    let (status, error) = b.post("/v1/transfers", &json!({ "id": "bv", "void_pending_id": "h2" })).await;
    assert_eq!((status, error["error"]["code"].as_str()), (404, Some("PENDING_TRANSFER_NOT_FOUND")));
    assert_eq!(a.post("/v1/transfers", &json!({ "id": "v2", "void_pending_id": "h2" })).await.0, 201);
    let (status, error) =
        a.post("/v1/transfers", &json!({ "id": "p3", "post_pending_id": "h2", "amount": "10.00" })).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("PENDING_TRANSFER_ALREADY_VOIDED")));

    // A hold with a one-second timeout lapses by itself.
    assert_eq!(a.post("/v1/transfers", &hold("h3", "5.00", Some(1))).await.0, 201);
    aex_testkit::eventually(Duration::from_secs(10), "the lapsed hold released", || async {
        let (_, balance) = a.get("/v1/balance").await;
        (balance["held_minor"] == 0).then_some(())
    })
    .await;
    let (status, error) =
        a.post("/v1/transfers", &json!({ "id": "p4", "post_pending_id": "h3", "amount": "5.00" })).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("PENDING_TRANSFER_EXPIRED")));
    assert_eq!(a.balance_minor().await, 4000);
}

/// 32 clients move money at random among 50 tenants, five of which receive most transfers.
#[tokio::test]
async fn random_concurrent_transfers_conserve_money_to_the_cent() {
    let s = Settlement::start().await;
    let tenants: Vec<String> = (0..50).map(|_| tenant()).collect();
    let mut accounts = Vec::new();
    for t in &tenants {
        let caller = s.tenant(t);
        caller.deposit("1000.00").await;
        accounts.push(caller.account_id().await);
    }
    let deposited: i64 = 50 * 100_000;
    let mut clients = Vec::new();
    for client in 0..32 {
        let tokens: Vec<String> = tenants.iter().map(|t| s.token(t, &["billing:write"])).collect();
        let accounts = accounts.clone();
        let http = s.service.http.clone();
        let url = s.service.url("/v1/transfers");
        clients.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0..40 {
                let from = fastrand::usize(..50);
                let hot = fastrand::u8(..10) < 7;
                let to = if hot { fastrand::usize(..5) } else { fastrand::usize(..50) };
                let id = format!("c{client}-{n}");
                let cents = fastrand::i64(1..=20_000);
                let body = json!({ "id": id, "debit_account_id": accounts[from], "credit_account_id": accounts[to],
                                   "amount": format!("{}.{:02}", cents / 100, cents % 100) });
                let response = http.post(&url).bearer_auth(&tokens[from]).json(&body).send().await.unwrap();
                if response.status() == 201 {
                    acknowledged.push(id);
                }
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for client in clients {
        acknowledged.extend(client.await.unwrap());
    }
    assert!(acknowledged.len() > 100, "the load must actually move money ({} transfers)", acknowledged.len());

    let pool = s.sut.pool().await;
    let balances: Vec<(String, i64)> =
        sqlx::query_as("SELECT id, credits_posted - debits_posted FROM accounts WHERE kind = 'tenant'")
            .fetch_all(&pool)
            .await
            .unwrap();
    let total: i64 = balances.iter().map(|(_, b)| b).sum();
    assert_eq!(total, deposited, "money is conserved to the cent");
    assert!(balances.iter().all(|(_, b)| *b >= 0), "no tenant account is negative");
    let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM transfers WHERE id = ANY($1)")
        .bind(&acknowledged)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), acknowledged.len(), "every acknowledged transfer is present");
    let per_account: HashMap<String, i64> = balances.into_iter().collect();
    assert_eq!(per_account.len(), 50);

    let (status, verification) = s.admin().get("/v1/audit/journal/verify").await;
    assert_eq!(status, 200);
    assert_eq!(verification["valid"], true, "{verification}");
    assert!(verification["entries_checked"].as_i64().unwrap() >= 50 + acknowledged.len() as i64);
}

#[tokio::test]
async fn a_stored_value_that_cannot_be_decoded_fails_the_read_instead_of_becoming_a_default() {
    let s = Settlement::start().await;
    let t = tenant();
    s.tenant(&t).deposit("2.00").await;
    let account = s.tenant(&t).account_id().await;
    let (status, body) = s.tenant(&t).get(&format!("/v1/accounts/{account}")).await;
    assert_eq!((status, body["currency"].as_str()), (200, Some("USD")), "{body}");

    // A currency code the platform does not know, written behind its back.
    sqlx::query("UPDATE accounts SET currency = 'XTS' WHERE id = $1")
        .bind(&account)
        .execute(&s.sut.pool().await)
        .await
        .unwrap();
    let (status, body) = s.tenant(&t).get(&format!("/v1/accounts/{account}")).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "INTERNAL_ERROR");
    assert!(!body.to_string().contains("USD"), "{body}");
}

#[tokio::test]
async fn a_batch_body_holds_transfers_alone_and_no_item_holds_a_batch() {
    let s = Settlement::start().await;
    let (a, b) = (s.tenant(&tenant()), s.tenant(&tenant()));
    a.deposit("5.00").await;
    let (from, to) = (a.account_id().await, b.account_id().await);
    let item = json!({ "id": "n-1", "debit_account_id": from, "credit_account_id": to, "amount": "1.00" });
    let mixed = json!({ "transfers": [item.clone()], "id": "n-2" });
    let (status, body) = a.post("/v1/transfers", &mixed).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("VALIDATION_ERROR")), "{body}");
    let nested = json!({ "transfers": [{ "transfers": [item] }] });
    let (status, body) = a.post("/v1/transfers", &nested).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("VALIDATION_ERROR")), "{body}");
    assert_eq!(a.balance_minor().await, 500, "nothing was applied");
}
