//! Subscriptions: only for the caller's own provider, validated, the webhook secret write-only.

use crate::{Publisher, assert_error, name, tenant};
use serde_json::{Value, json};

fn body(provider: &str) -> Value {
    json!({
        "provider_id": provider,
        "categories": ["Translation.*", "code.review"],
        "filters": { "min_budget": "25.50", "max_latency_ms": 5000, "regions": ["EU"] },
        "delivery": { "method": "webhook", "webhook_url": "https://agent.example.com/hook",
                      "webhook_secret": "0123456789abcdef0123" }
    })
}

#[tokio::test]
async fn subscribes_the_callers_own_provider_and_lists_its_subscriptions() {
    let p = Publisher::start().await;
    let owner = tenant();
    let t = p.tenant(&owner);
    let provider = t.provider(&name("sub")).await;
    let (status, created) = t.post("/v1/subscriptions", &body(&provider)).await;
    assert_eq!(status, 201, "{created}");
    assert!(created["subscription_id"].as_str().unwrap().starts_with("sub_"));
    assert_eq!(created["categories"], json!(["translation.*", "code.review"]));
    assert_eq!(created["filters"]["min_budget"], "25.50");
    assert_eq!(created["filters"]["min_budget_minor"], 2550);
    assert_eq!(created["filters"]["regions"], json!(["eu"]));
    assert_eq!(created["delivery"]["method"], "webhook");
    assert_eq!(created["delivery"]["has_webhook_secret"], true);
    assert!(!created.to_string().contains("0123456789abcdef0123"), "the secret is never returned");

    t.subscribe(&provider, &["*"]).await;
    let (status, list) = t.get("/v1/subscriptions").await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 2);
    assert!(!list.to_string().contains("0123456789abcdef0123"));
    let (_, others) = p.tenant(&tenant()).get("/v1/subscriptions").await;
    assert_eq!(others["total"], 0);
    p.service.stop().await;
}

#[tokio::test]
async fn another_tenants_provider_cannot_be_subscribed() {
    let p = Publisher::start().await;
    let provider = p.tenant(&tenant()).provider(&name("victim")).await;
    let intruder = p.tenant(&tenant());
    assert_error(&intruder.post("/v1/subscriptions", &body(&provider)).await, 404, "PROVIDER_NOT_FOUND");
    assert_error(&intruder.post("/v1/subscriptions", &body("prov_nope")).await, 404, "PROVIDER_NOT_FOUND");
    assert_eq!(p.count("SELECT count(*) FROM subscriptions").await, 0);
    p.service.stop().await;
}

#[tokio::test]
async fn bad_subscriptions_are_refused_and_nothing_is_stored() {
    let p = Publisher::start().await;
    let t = p.tenant(&tenant());
    let provider = t.provider(&name("subs")).await;
    let cases: Vec<(&str, crate::Edit)> = vec![
        ("provider_id", Box::new(|b| b["provider_id"] = Value::Null)),
        ("categories", Box::new(|b| b["categories"] = json!([]))),
        ("categories", Box::new(|b| b["categories"] = json!(["bad category"]))),
        ("categories", Box::new(|b| b["categories"] = json!(["a..b"]))),
        ("min_budget", Box::new(|b| b["filters"]["min_budget"] = json!("-1.00"))),
        ("min_budget", Box::new(|b| b["filters"]["min_budget"] = json!(12.5))),
        ("max_latency_ms", Box::new(|b| b["filters"]["max_latency_ms"] = json!(0))),
        ("delivery", Box::new(|b| b["delivery"] = Value::Null)),
        ("delivery.method", Box::new(|b| b["delivery"]["method"] = json!("carrier-pigeon"))),
        ("delivery.webhook_url", Box::new(|b| b["delivery"]["webhook_url"] = Value::Null)),
        ("delivery.webhook_url", Box::new(|b| b["delivery"]["webhook_url"] = json!("gopher://x"))),
        ("delivery.webhook_secret", Box::new(|b| b["delivery"]["webhook_secret"] = json!("short"))),
        ("delivery.webhook_secret", Box::new(|b| b["delivery"]["webhook_secret"] = json!("0123456789abcdef\u{0}"))),
    ];
    for (field, change) in cases {
        let mut request = body(&provider);
        change(&mut request);
        let (status, answer) = t.post("/v1/subscriptions", &request).await;
        assert_eq!(status, 400, "{field}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}: {message}");
    }
    assert_error(
        &p.caller(&tenant(), &["read"]).post("/v1/subscriptions", &body(&provider)).await,
        403,
        "INSUFFICIENT_SCOPE",
    );
    assert_eq!(p.count("SELECT count(*) FROM subscriptions").await, 0);
    p.service.stop().await;
}
