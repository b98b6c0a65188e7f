//! Deposits, withdrawals and balances: exact amounts, idempotency, bad input.

use crate::{Settlement, tenant};
use serde_json::json;

#[tokio::test]
async fn a_deposit_credits_the_exact_amount_and_shows_in_the_balance() {
    let s = Settlement::start().await;
    let a = s.tenant(&tenant());
    let body = a.deposit("12.50").await;
    assert_eq!(body["amount"], "12.50");
    assert_eq!(body["amount_minor"], 1250);
    assert_eq!(body["currency"], "USD");
    assert_eq!(body["type"], "deposit");
    assert_eq!(body["status"], "completed");
    assert!(body["transaction_id"].as_str().unwrap().starts_with("dep_"));
    let (status, balance) = a.get("/v1/balance").await;
    assert_eq!(status, 200);
    assert_eq!(balance["balance"], "12.50");
    assert_eq!(balance["balance_minor"], 1250);
    assert_eq!(balance["available_minor"], 1250);
    assert_eq!(balance["held_minor"], 0);
}

#[tokio::test]
async fn the_same_idempotency_key_replays_and_a_different_body_is_refused() {
    let s = Settlement::start().await;
    let a = s.tenant(&tenant());
    let body = json!({ "amount": "5.00", "payment_reference": "inv-1" });
    let (first_status, first) = a.post_with_key("/v1/deposits", &body, Some("key-1")).await;
    let (second_status, second) = a.post_with_key("/v1/deposits", &body, Some("key-1")).await;
    assert_eq!((first_status, second_status), (201, 201));
    assert_eq!(first, second, "the original response is replayed");
    assert_eq!(a.balance_minor().await, 500);

    let (status, error) = a.post_with_key("/v1/deposits", &json!({ "amount": "6.00" }), Some("key-1")).await;
    assert_eq!(status, 422);
    assert_eq!(error["error"]["code"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(a.balance_minor().await, 500);

    // Keys are per tenant: another tenant's identical key is a new deposit.
    let b = s.tenant(&tenant());
    let (status, _) = b.post_with_key("/v1/deposits", &body, Some("key-1")).await;
    assert_eq!(status, 201);
    assert_eq!(b.balance_minor().await, 500);
}

#[tokio::test]
async fn five_hundred_concurrent_identical_deposits_have_one_effect() {
    let s = Settlement::start().await;
    let tenant = tenant();
    let token = s.token(&tenant, &["billing:write", "read"]);
    let url = s.service.url("/v1/deposits");
    let mut calls = Vec::new();
    for _ in 0..500 {
        let request = s
            .service
            .http
            .post(&url)
            .bearer_auth(&token)
            .header("Idempotency-Key", "same-deposit")
            .json(&json!({ "amount": "7.77" }));
        calls.push(tokio::spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body["transaction_id"].as_str().unwrap_or_default().to_string())
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for call in calls {
        let (status, id) = call.await.unwrap();
        assert_eq!(status, 201);
        ids.insert(id);
    }
    assert_eq!(ids.len(), 1, "every caller sees the same transaction");
    assert_eq!(s.tenant(&tenant).balance_minor().await, 777);
    let pool = s.sut.pool().await;
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM transfers WHERE code = 'deposit'").fetch_one(&pool).await.unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn bad_amounts_are_refused_with_their_code_and_nothing_is_written() {
    let s = Settlement::start().await;
    let a = s.tenant(&tenant());
    let cases = [
        (json!({ "amount": "0" }), "INVALID_AMOUNT"),
        (json!({ "amount": "0.00" }), "INVALID_AMOUNT"),
        (json!({ "amount": "-1.00" }), "INVALID_AMOUNT"),
        (json!({ "amount": "1.234" }), "TOO_MANY_FRACTION_DIGITS"),
        (json!({ "amount": "1e3" }), "INVALID_AMOUNT"),
        (json!({ "amount": 12.5 }), "INVALID_AMOUNT"),
        (json!({ "amount": "twelve" }), "INVALID_AMOUNT"),
        (json!({ "amount": " 1.00" }), "INVALID_AMOUNT"),
        (json!({ "amount": "92233720368547758.08" }), "AMOUNT_OVERFLOW"),
        (json!({ "amount": "1.00", "currency": "XXX" }), "UNKNOWN_CURRENCY"),
        (json!({ "amount": "1.5", "currency": "JPY" }), "TOO_MANY_FRACTION_DIGITS"),
        (json!({}), "VALIDATION_ERROR"),
        (json!({ "amount": "1.00", "payment_reference": "x".repeat(300) }), "VALIDATION_ERROR"),
    ];
    for (body, code) in cases {
        let (status, error) = a.post("/v1/deposits", &body).await;
        assert_eq!(status, 400, "{body} -> {error}");
        assert_eq!(error["error"]["code"], code, "{body}");
    }
    let malformed = s
        .service
        .http
        .post(s.service.url("/v1/deposits"))
        .bearer_auth(&a.token)
        .header("content-type", "application/json")
        .body("{\"amount\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let pool = s.sut.pool().await;
    let written: i64 = sqlx::query_scalar("SELECT count(*) FROM transfers").fetch_one(&pool).await.unwrap();
    assert_eq!(written, 0, "nothing persisted for bad input");
}

#[tokio::test]
async fn withdrawals_cannot_overdraw() {
    let s = Settlement::start().await;
    let a = s.tenant(&tenant());
    a.deposit("10.00").await;
    let (status, error) = a.post("/v1/withdrawals", &json!({ "amount": "10.01" })).await;
    assert_eq!(status, 402);
    assert_eq!(error["error"]["code"], "INSUFFICIENT_FUNDS");
    let (status, body) = a.post("/v1/withdrawals", &json!({ "amount": "10.00" })).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["type"], "withdrawal");
    assert_eq!(a.balance_minor().await, 0);
}

#[tokio::test]
async fn money_routes_need_a_tenant_token_with_billing_scope() {
    let s = Settlement::start().await;
    let anonymous =
        s.service.http.post(s.service.url("/v1/deposits")).json(&json!({ "amount": "1.00" })).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let reader = crate::Caller { settlement: &s, token: s.token(&tenant(), &["read"]) };
    let (status, error) = reader.post("/v1/deposits", &json!({ "amount": "1.00" })).await;
    assert_eq!(status, 403);
    assert_eq!(error["error"]["code"], "INSUFFICIENT_SCOPE");
}
