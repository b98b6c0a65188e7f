//! Work: submission with exact money and a clamped window, listings by ownership and
//! subscription match, cancel by the owner only.

use crate::{Publisher, assert_error, name, tenant, work_body};
use serde_json::{Value, json};

#[tokio::test]
async fn submits_work_and_notifies_matching_providers_in_one_transaction() {
    let p = Publisher::start().await;
    let consumer = tenant();
    // Three providers of two other tenants; two subscriptions match, one filters it out.
    let a = p.tenant(&tenant());
    let pa = a.provider(&name("a")).await;
    a.subscribe(&pa, &["translation.*"]).await;
    a.subscribe(&pa, &["*"]).await; // same provider twice: counted once
    let b = p.tenant(&tenant());
    let pb = b.provider(&name("b")).await;
    b.subscribe(&pb, &["translation.legal"]).await;
    let pb2 = b.provider(&name("b2")).await;
    let (status, _) = b
        .post(
            "/v1/subscriptions",
            &json!({ "provider_id": pb2, "categories": ["*"], "filters": { "min_budget": "500.00" },
                                            "delivery": { "method": "polling" } }),
        )
        .await;
    assert_eq!(status, 201);
    // The consumer's own subscription does not count.
    let own = p.tenant(&consumer);
    let po = own.provider(&name("own")).await;
    own.subscribe(&po, &["*"]).await;

    let (status, created) = own.post("/v1/work", &work_body("translation.legal")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "OPEN");
    assert_eq!(created["providers_notified"], 2);
    let work_id = created["work_id"].as_str().unwrap();
    assert!(work_id.starts_with("work_"));

    let (window_ms, ends_minus_created): (i32, f64) = sqlx::query_as(
        "SELECT bid_window_ms, extract(epoch FROM bid_window_ends_at - created_at)::float8 FROM work WHERE id = $1",
    )
    .bind(work_id)
    .fetch_one(&p.pool)
    .await
    .unwrap();
    assert_eq!(window_ms, 30_000);
    assert!((ends_minus_created - 30.0).abs() < 0.01, "{ends_minus_created}");

    let events = p.events("work.submitted").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["work_id"], work_id);
    assert_eq!(events[0]["consumer_tenant_id"], consumer.as_str());
    assert_eq!(events[0]["max_price_minor"], 10_000);
    assert_eq!(events[0]["providers_notified"], 2);
    aex_testkit::eventually(std::time::Duration::from_secs(10), "the relay to publish the event", || async {
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&p.pool)
            .await
            .ok()?;
        (pending == 0).then_some(())
    })
    .await;

    let (status, view) = own.get(&format!("/v1/work/{work_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(view["budget"]["max_price"], "100.00");
    assert_eq!(view["budget"]["max_price_minor"], 10_000);
    assert_eq!(view["constraints"]["max_latency_ms"], 60_000);
    assert_eq!(view["payload"]["text"], "hello");
    p.service.stop().await;
}

#[tokio::test]
async fn the_bid_window_is_bounded_and_defaults_to_thirty_seconds() {
    let p = Publisher::start().await;
    let t = p.tenant(&tenant());
    for (asked, stored) in
        [(Value::Null, 30_000), (json!(12_345), 12_345), (json!(5_000), 5_000), (json!(300_000), 300_000)]
    {
        let mut body = work_body("data.labeling");
        body["bid_window_ms"] = asked.clone();
        let (status, created) = t.post("/v1/work", &body).await;
        assert_eq!(status, 201, "{created}");
        let (_, view) = t.get(&format!("/v1/work/{}", created["work_id"].as_str().unwrap())).await;
        assert_eq!(view["bid_window_ms"], stored, "asked {asked}");
    }
    // Out of range is refused, never silently clamped, and nothing is stored.
    let before = p.count("SELECT count(*) FROM work").await;
    for asked in [json!(1), json!(-1), json!(4_999), json!(300_001), json!(999_999_999)] {
        let mut body = work_body("data.labeling");
        body["bid_window_ms"] = asked.clone();
        let (status, answer) = t.post("/v1/work", &body).await;
        assert_eq!(status, 400, "asked {asked}: {answer}");
        assert_eq!(answer["error"]["code"], "VALIDATION_ERROR");
    }
    assert_eq!(p.count("SELECT count(*) FROM work").await, before);
    p.service.stop().await;
}

#[tokio::test]
async fn bad_work_is_refused_naming_the_field_and_nothing_is_stored() {
    let p = Publisher::start().await;
    let t = p.tenant(&tenant());
    let cases: Vec<(&str, &str, crate::Edit)> = vec![
        ("category", "VALIDATION_ERROR", Box::new(|b| b["category"] = Value::Null)),
        ("category", "VALIDATION_ERROR", Box::new(|b| b["category"] = json!("translation.*"))),
        ("category", "VALIDATION_ERROR", Box::new(|b| b["category"] = json!("a b"))),
        ("description", "VALIDATION_ERROR", Box::new(|b| b["description"] = json!("  "))),
        ("budget", "VALIDATION_ERROR", Box::new(|b| b["budget"] = Value::Null)),
        ("max_price", "VALIDATION_ERROR", Box::new(|b| b["budget"]["max_price"] = Value::Null)),
        ("max_price", "INVALID_AMOUNT", Box::new(|b| b["budget"]["max_price"] = json!(10.5))),
        ("max_price", "INVALID_AMOUNT", Box::new(|b| b["budget"]["max_price"] = json!("1e3"))),
        ("max_price", "INVALID_AMOUNT", Box::new(|b| b["budget"]["max_price"] = json!("0.00"))),
        ("max_price", "INVALID_AMOUNT", Box::new(|b| b["budget"]["max_price"] = json!("-5.00"))),
        ("max_price", "TOO_MANY_FRACTION_DIGITS", Box::new(|b| b["budget"]["max_price"] = json!("1.005"))),
        ("max_price", "AMOUNT_OVERFLOW", Box::new(|b| b["budget"]["max_price"] = json!("99999999999999999999"))),
        ("currency", "UNKNOWN_CURRENCY", Box::new(|b| b["budget"]["currency"] = json!("XXX"))),
        ("bid_strategy", "VALIDATION_ERROR", Box::new(|b| b["budget"]["bid_strategy"] = json!("cheapest"))),
        ("max_cpa_bonus", "INVALID_AMOUNT", Box::new(|b| b["budget"]["max_cpa_bonus"] = json!("-1"))),
        ("max_latency_ms", "VALIDATION_ERROR", Box::new(|b| b["constraints"]["max_latency_ms"] = json!(0))),
        ("min_trust_tier", "VALIDATION_ERROR", Box::new(|b| b["constraints"]["min_trust_tier"] = json!("DIAMOND"))),
        ("regions", "VALIDATION_ERROR", Box::new(|b| b["constraints"]["regions"] = json!([""]))),
        ("bid_window_ms", "VALIDATION_ERROR", Box::new(|b| b["bid_window_ms"] = json!("soon"))),
        ("bid_window_ms", "VALIDATION_ERROR", Box::new(|b| b["bid_window_ms"] = json!(5000.5))),
        ("payload", "INVALID_CHARACTERS", Box::new(|b| b["payload"] = json!({ "k\u{0}": 1 }))),
        ("payload", "VALIDATION_ERROR", Box::new(|b| b["payload"] = json!("x".repeat(300 * 1024)))),
        ("success_criteria", "INVALID_CHARACTERS", Box::new(|b| b["success_criteria"] = json!(["\u{0}"]))),
        ("description", "INVALID_CHARACTERS", Box::new(|b| b["description"] = json!("a\u{0}"))),
    ];
    for (field, code, change) in cases {
        let mut body = work_body("translation.legal");
        change(&mut body);
        let (status, answer) = t.post("/v1/work", &body).await;
        assert_eq!((status, answer["error"]["code"].as_str().unwrap_or("")), (400, code), "{field}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(field) || code == "UNKNOWN_CURRENCY", "{field}: {message}");
    }
    assert_error(&p.caller(&tenant(), &["read"]).post("/v1/work", &work_body("x")).await, 403, "INSUFFICIENT_SCOPE");
    assert_eq!(p.count("SELECT count(*) FROM work").await, 0);
    assert_eq!(p.count("SELECT count(*) FROM outbox").await, 0);
    p.service.stop().await;
}

#[tokio::test]
async fn listings_show_own_work_and_matching_open_work_of_others() {
    let p = Publisher::start().await;
    let consumer = p.tenant(&tenant());
    let legal = consumer.work("translation.legal").await;
    let code = consumer.work("code.review").await;
    let mut cheap = work_body("translation.medical");
    cheap["budget"]["max_price"] = json!("5.00");
    let (_, cheap) = consumer.post("/v1/work", &cheap).await;
    let cheap = cheap["work_id"].as_str().unwrap().to_string();

    let ids = |body: &Value| -> Vec<String> {
        body["work"].as_array().unwrap().iter().map(|w| w["work_id"].as_str().unwrap().to_string()).collect()
    };
    let (status, mine) = consumer.get("/v1/work").await;
    assert_eq!(status, 200);
    assert_eq!(mine["total"], 3);
    let (_, page) = consumer.get("/v1/work?limit=1&offset=1").await;
    assert_eq!((ids(&page).len(), page["total"].as_i64()), (1, Some(3)));

    let provider_tenant = p.tenant(&tenant());
    let prov = provider_tenant.provider(&name("poll")).await;
    let (_, none) = provider_tenant.get("/v1/work?status=OPEN").await;
    assert_eq!(none["total"], 0, "no subscription, nothing to see");
    let (status, _) = provider_tenant
        .post(
            "/v1/subscriptions",
            &json!({ "provider_id": prov, "categories": ["translation.*"],
              "filters": { "min_budget": "10.00" }, "delivery": { "method": "polling" } }),
        )
        .await;
    assert_eq!(status, 201);
    let (_, open) = provider_tenant.get("/v1/work?status=open").await;
    assert_eq!(ids(&open), vec![legal.clone()], "category and min_budget filters applied");
    let (_, own_only) = provider_tenant.get("/v1/work").await;
    assert_eq!(own_only["total"], 0, "without status=OPEN only the caller's own work");

    assert_eq!(provider_tenant.get(&format!("/v1/work/{legal}")).await.0, 200, "a matched provider sees open work");
    assert_error(&provider_tenant.get(&format!("/v1/work/{code}")).await, 404, "NOT_FOUND");
    assert_error(&provider_tenant.get(&format!("/v1/work/{cheap}")).await, 404, "NOT_FOUND");
    assert_error(&p.tenant(&tenant()).get(&format!("/v1/work/{legal}")).await, 404, "NOT_FOUND");
    assert_error(&consumer.get("/v1/work/work_00000000000000000000000000").await, 404, "NOT_FOUND");
    assert_error(&consumer.get("/v1/work/work_%00").await, 400, "INVALID_CHARACTERS");
    assert_error(&consumer.get("/v1/work/%00/bids").await, 400, "INVALID_CHARACTERS");
    assert_error(&consumer.get("/v1/work?status=DONE").await, 400, "VALIDATION_ERROR");
    assert_error(&consumer.get("/v1/work?limit=500").await, 400, "VALIDATION_ERROR");
    assert_eq!(consumer.get("/v1/work?limit=abc").await.0, 400);

    // Once closed, the work leaves the providers' feed.
    p.expire_window(&legal).await;
    p.wait_closed(&legal).await;
    let (_, open) = provider_tenant.get("/v1/work?status=OPEN").await;
    assert_eq!(open["total"], 0);
    assert_error(&provider_tenant.get(&format!("/v1/work/{legal}")).await, 404, "NOT_FOUND");
    p.service.stop().await;
}

#[tokio::test]
async fn the_owner_cancels_open_or_evaluating_work_and_nothing_else() {
    let p = Publisher::start().await;
    let owner_id = tenant();
    let owner = p.tenant(&owner_id);
    let open = owner.work("translation.legal").await;
    let evaluating = owner.work("translation.legal").await;
    p.expire_window(&evaluating).await;
    p.wait_closed(&evaluating).await;

    let stranger = p.tenant(&tenant());
    assert_error(&stranger.post(&format!("/v1/work/{open}/cancel"), &json!({})).await, 404, "NOT_FOUND");
    assert_error(
        &p.caller(&owner_id, &["read"]).post(&format!("/v1/work/{open}/cancel"), &json!({})).await,
        403,
        "INSUFFICIENT_SCOPE",
    );

    for id in [&open, &evaluating] {
        let (status, cancelled) = owner.post(&format!("/v1/work/{id}/cancel"), &json!({})).await;
        assert_eq!(status, 200, "{cancelled}");
        assert_eq!(cancelled["status"], "CANCELLED");
        assert!(cancelled["cancelled_at"].is_string());
    }
    assert_error(&owner.post(&format!("/v1/work/{open}/cancel"), &json!({})).await, 409, "INVALID_WORK_STATE");
    for status in ["AWARDED", "EXECUTING", "COMPLETED", "FAILED"] {
        let id = owner.work("translation.legal").await;
        sqlx::query("UPDATE work SET status = $2 WHERE id = $1").bind(&id).bind(status).execute(&p.pool).await.unwrap();
        assert_error(&owner.post(&format!("/v1/work/{id}/cancel"), &json!({})).await, 409, "INVALID_WORK_STATE");
    }
    let events = p.events("work.cancelled").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["previous_status"], "OPEN");
    assert_eq!(events[1]["previous_status"], "EVALUATING");
    assert_error(&owner.post("/v1/work/work_00000000000000000000000000/cancel", &json!({})).await, 404, "NOT_FOUND");
    assert_error(&owner.post("/v1/work/work_%00/cancel", &json!({})).await, 400, "INVALID_CHARACTERS");
    p.service.stop().await;
}
