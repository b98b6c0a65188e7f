//! Sealed bids: identity from credentials, one live bid per provider, no price visible to
//! anyone but the bidder before close — through any route or event.

use crate::{Publisher, assert_error, bid_body, name, tenant};
use serde_json::{Value, json};

/// A consumer's OPEN work and two providers (of two tenants) subscribed to it.
struct Market<'a> {
    consumer: crate::Caller<'a>,
    alice: crate::Caller<'a>,
    bob: crate::Caller<'a>,
    alice_provider: String,
    work_id: String,
}

async fn market(p: &Publisher) -> Market<'_> {
    let consumer = p.tenant(&tenant());
    let alice = p.tenant(&tenant());
    let alice_provider = alice.provider(&name("alice")).await;
    alice.subscribe(&alice_provider, &["translation.*"]).await;
    let bob = p.tenant(&tenant());
    let bob_provider = bob.provider(&name("bob")).await;
    bob.subscribe(&bob_provider, &["*"]).await;
    let work_id = consumer.work("translation.legal").await;
    Market { consumer, alice, bob, alice_provider, work_id }
}

fn no_price(body: &Value) {
    let text = body.to_string();
    assert!(
        !text.contains("41.25") && !text.contains("4125") && !text.contains("39.99") && !text.contains("3999"),
        "{text}"
    );
}

#[tokio::test]
async fn a_provider_bids_and_only_it_sees_its_price_until_close() {
    let p = Publisher::start().await;
    let m = market(&p).await;
    let (status, received) = m.alice.bid(&m.work_id, "41.25").await;
    assert_eq!(status, 201, "{received}");
    assert_eq!(received["status"], "RECEIVED");
    assert_eq!(received["work_id"], m.work_id.as_str());
    assert_eq!(received["provider_id"], m.alice_provider.as_str());
    assert!(received["bid_id"].as_str().unwrap().starts_with("bid_"));
    let (status, _) = m.bob.bid(&m.work_id, "39.99").await;
    assert_eq!(status, 201);

    // The owner: sealed. Other providers: only their own bid. Nobody sees the other's price.
    let bids_path = format!("/v1/work/{}/bids", m.work_id);
    assert_error(&m.consumer.get(&bids_path).await, 409, "BIDS_SEALED");
    let (status, own) = m.alice.get(&bids_path).await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(own["total"], 1);
    assert_eq!(own["bids"][0]["price"], "41.25");
    assert_eq!(own["bids"][0]["price_minor"], 4125);
    assert!(!own.to_string().contains("39.99"));
    let (_, bobs) = m.bob.get(&bids_path).await;
    assert_eq!((bobs["total"].as_i64(), bobs["bids"][0]["price"].as_str()), (Some(1), Some("39.99")));
    assert!(!bobs.to_string().contains("41.25"));
    for caller in [&m.consumer, &m.alice, &m.bob] {
        for path in [format!("/v1/work/{}", m.work_id), "/v1/work?status=OPEN".to_string(), "/v1/work".to_string()] {
            let (status, body) = caller.get(&path).await;
            assert_eq!(status, 200, "{path}: {body}");
            no_price(&body);
        }
    }
    assert_error(&p.service_caller().get(&format!("/internal/v1/work/{}/bids", m.work_id)).await, 409, "BIDS_SEALED");
    // A stranger neither sees the work nor its bids.
    assert_error(&p.tenant(&tenant()).get(&bids_path).await, 404, "NOT_FOUND");

    // Events carry no price.
    let events = p.events("bid.submitted").await;
    assert_eq!(events.len(), 2);
    for event in &events {
        assert!(event.get("price").is_none() && event.get("price_minor").is_none(), "{event}");
        no_price(event);
    }
    let outbox: Vec<Vec<u8>> = sqlx::query_scalar("SELECT payload FROM outbox").fetch_all(&p.pool).await.unwrap();
    for payload in outbox {
        no_price(&serde_json::from_slice::<Value>(&payload).unwrap());
    }

    // After close the owner sees every bid with its price, each provider still only its own.
    p.expire_window(&m.work_id).await;
    p.wait_closed(&m.work_id).await;
    let (status, all) = m.consumer.get(&bids_path).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["total"], 2);
    assert_eq!(all["work_status"], "EVALUATING");
    let mut prices: Vec<&str> = all["bids"].as_array().unwrap().iter().map(|b| b["price"].as_str().unwrap()).collect();
    prices.sort();
    assert_eq!(prices, vec!["39.99", "41.25"]);
    let (_, own) = m.alice.get(&bids_path).await;
    assert_eq!(own["total"], 1);
    assert!(!own.to_string().contains("39.99"));

    // The evaluator reads the sealed bids after close; a forwarded client request may not.
    let internal = format!("/internal/v1/work/{}/bids", m.work_id);
    let (status, sealed) = p.service_caller().get(&internal).await;
    assert_eq!((status, sealed["total"].as_i64()), (200, Some(2)), "{sealed}");
    assert_error(&m.consumer.get(&internal).await, 403, "SERVICE_ONLY");
    assert_error(
        &p.service_caller().get("/internal/v1/work/work_00000000000000000000000000/bids").await,
        404,
        "NOT_FOUND",
    );
    p.service.stop().await;
}

#[tokio::test]
async fn a_re_bid_replaces_the_providers_live_bid() {
    let p = Publisher::start().await;
    let m = market(&p).await;
    let (_, first) = m.alice.bid(&m.work_id, "50.00").await;
    let (status, second) = m.alice.bid(&m.work_id, "45.50").await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["replaced_bid_id"], first["bid_id"]);
    assert_ne!(second["bid_id"], first["bid_id"]);
    let rows: Vec<(String, i64, i32)> = sqlx::query_as("SELECT id, price_minor, revision FROM bids WHERE work_id = $1")
        .bind(&m.work_id)
        .fetch_all(&p.pool)
        .await
        .unwrap();
    assert_eq!(rows, vec![(second["bid_id"].as_str().unwrap().to_string(), 4550, 2)]);
    let events = p.events("bid.submitted").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["replaces_bid_id"], first["bid_id"]);
    p.service.stop().await;
}

#[tokio::test]
async fn bids_are_refused_for_other_tenants_providers_closed_work_and_bad_input() {
    let p = Publisher::start().await;
    let m = market(&p).await;

    // The provider comes from the credentials: another tenant's provider id is not found.
    let mut body = bid_body(&m.work_id, "10.00");
    body["provider_id"] = json!(m.alice_provider);
    assert_error(&m.bob.post("/v1/bids", &body).await, 404, "PROVIDER_NOT_FOUND");
    assert_error(&p.tenant(&tenant()).bid(&m.work_id, "10.00").await, 404, "PROVIDER_NOT_FOUND");
    assert_error(&m.alice.bid("work_00000000000000000000000000", "10.00").await, 404, "NOT_FOUND");
    assert_error(&m.alice.bid("work_\u{0}", "10.00").await, 400, "INVALID_CHARACTERS");
    let mut nul_provider = bid_body(&m.work_id, "10.00");
    nul_provider["provider_id"] = json!("prov_\u{0}");
    assert_error(&m.alice.post("/v1/bids", &nul_provider).await, 400, "INVALID_CHARACTERS");
    assert_error(&p.caller(&tenant(), &["read"]).bid(&m.work_id, "10.00").await, 403, "INSUFFICIENT_SCOPE");

    // The consumer's own provider cannot bid on its own work.
    let own = m.consumer.provider(&name("own")).await;
    let mut self_bid = bid_body(&m.work_id, "10.00");
    self_bid["provider_id"] = json!(own);
    assert_error(&m.consumer.post("/v1/bids", &self_bid).await, 409, "CANNOT_BID_ON_OWN_WORK");

    let cases: Vec<(&str, &str, crate::Edit)> = vec![
        ("work_id", "VALIDATION_ERROR", Box::new(|b| b["work_id"] = Value::Null)),
        ("price", "VALIDATION_ERROR", Box::new(|b| b["price"] = Value::Null)),
        ("price", "INVALID_AMOUNT", Box::new(|b| b["price"] = json!(12.5))),
        ("price", "INVALID_AMOUNT", Box::new(|b| b["price"] = json!("0"))),
        ("price", "TOO_MANY_FRACTION_DIGITS", Box::new(|b| b["price"] = json!("1.999"))),
        ("confidence", "VALIDATION_ERROR", Box::new(|b| b["confidence"] = json!(1.5))),
        ("confidence", "VALIDATION_ERROR", Box::new(|b| b["confidence"] = Value::Null)),
        ("approach", "VALIDATION_ERROR", Box::new(|b| b["approach"] = json!(""))),
        ("estimated_latency_ms", "VALIDATION_ERROR", Box::new(|b| b["estimated_latency_ms"] = json!(-1))),
        ("sla", "VALIDATION_ERROR", Box::new(|b| b["sla"] = Value::Null)),
        ("sla.max_latency_ms", "VALIDATION_ERROR", Box::new(|b| b["sla"]["max_latency_ms"] = json!(0))),
        ("sla.availability", "VALIDATION_ERROR", Box::new(|b| b["sla"]["availability"] = json!(2))),
        ("a2a_endpoint", "VALIDATION_ERROR", Box::new(|b| b["a2a_endpoint"] = json!("ws://x"))),
        ("expires_at", "VALIDATION_ERROR", Box::new(|b| b["expires_at"] = json!("tomorrow"))),
        ("expires_at", "VALIDATION_ERROR", Box::new(|b| b["expires_at"] = json!("2001-01-01T00:00:00Z"))),
        ("mvp_sample", "INVALID_CHARACTERS", Box::new(|b| b["mvp_sample"] = json!({ "text": "\u{0}" }))),
        ("price_breakdown", "INVALID_CHARACTERS", Box::new(|b| b["price_breakdown"] = json!({ "\u{0}": "1.00" }))),
        ("approach", "INVALID_CHARACTERS", Box::new(|b| b["approach"] = json!("a\u{0}"))),
    ];
    for (field, code, change) in cases {
        let mut body = bid_body(&m.work_id, "10.00");
        change(&mut body);
        let (status, answer) = m.alice.post("/v1/bids", &body).await;
        assert_eq!((status, answer["error"]["code"].as_str().unwrap_or("")), (400, code), "{field}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(field), "{field}: {answer}");
    }
    assert_eq!(p.count("SELECT count(*) FROM bids").await, 0, "nothing persisted");
    assert_eq!(p.count("SELECT count(*) FROM outbox WHERE subject = 'bid.submitted'").await, 0);

    // Past the deadline but not yet swept: BID_WINDOW_CLOSED; once closed: WORK_NOT_OPEN.
    // A share lock (as a bid in flight holds) keeps the closer off the row meanwhile.
    let (status, _) = m.alice.bid(&m.work_id, "10.00").await;
    assert_eq!(status, 201);
    sqlx::query("UPDATE work SET bid_window_ends_at = now() + interval '300 milliseconds' WHERE id = $1")
        .bind(&m.work_id)
        .execute(&p.pool)
        .await
        .unwrap();
    let mut holder = p.pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM work WHERE id = $1 FOR SHARE").bind(&m.work_id).execute(&mut *holder).await.unwrap();
    aex_testkit::eventually(std::time::Duration::from_secs(5), "the deadline to pass", || async {
        let past: bool = sqlx::query_scalar("SELECT bid_window_ends_at <= clock_timestamp() FROM work WHERE id = $1")
            .bind(&m.work_id)
            .fetch_one(&p.pool)
            .await
            .ok()?;
        past.then_some(())
    })
    .await;
    assert_error(&m.bob.bid(&m.work_id, "9.00").await, 409, "BID_WINDOW_CLOSED");
    let status: String =
        sqlx::query_scalar("SELECT status FROM work WHERE id = $1").bind(&m.work_id).fetch_one(&p.pool).await.unwrap();
    assert_eq!(status, "OPEN", "the closer skipped the locked row");
    holder.commit().await.unwrap();
    p.wait_closed(&m.work_id).await;
    assert_error(&m.bob.bid(&m.work_id, "9.00").await, 409, "WORK_NOT_OPEN");
    assert_error(&m.alice.bid(&m.work_id, "9.00").await, 409, "WORK_NOT_OPEN");
    assert_eq!(p.count("SELECT count(*) FROM bids").await, 1);
    let price: i64 = sqlx::query_scalar("SELECT price_minor FROM bids").fetch_one(&p.pool).await.unwrap();
    assert_eq!(price, 1000, "a refused re-bid leaves the live bid as it was");
    p.service.stop().await;
}

#[tokio::test]
async fn a_tenant_with_several_providers_names_the_one_that_bids() {
    let p = Publisher::start().await;
    let m = market(&p).await;
    let second = m.alice.provider(&name("alice-2")).await;
    let (status, answer) = m.alice.bid(&m.work_id, "10.00").await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("provider_id"));
    let mut body = bid_body(&m.work_id, "10.00");
    body["provider_id"] = json!(second);
    let (status, received) = m.alice.post("/v1/bids", &body).await;
    assert_eq!(status, 201, "{received}");
    assert_eq!(received["provider_id"], second.as_str());
    body["provider_id"] = json!(m.alice_provider);
    let (status, _) = m.alice.post("/v1/bids", &body).await;
    assert_eq!(status, 201, "each provider of the tenant holds its own live bid");
    assert_eq!(p.count("SELECT count(*) FROM bids").await, 2);
    p.service.stop().await;
}

#[tokio::test]
async fn concurrent_bids_of_one_provider_leave_one_live_bid_and_a_chain_of_replacements() {
    let p = Publisher::start().await;
    let m = market(&p).await;
    let attempts: Vec<_> = (0..50)
        .map(|i| {
            let (http, url, token) = (p.service.http.clone(), p.service.url("/v1/bids"), m.alice.token.clone());
            let body = bid_body(&m.work_id, &format!("{}.00", 10 + i));
            tokio::spawn(async move {
                http.post(url).bearer_auth(token).json(&body).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    for status in futures::future::join_all(attempts).await {
        assert_eq!(status.unwrap(), 201);
    }
    let (rows, revision): (i64, i32) = sqlx::query_as("SELECT count(*), max(revision) FROM bids WHERE work_id = $1")
        .bind(&m.work_id)
        .fetch_one(&p.pool)
        .await
        .unwrap();
    assert_eq!((rows, revision), (1, 50));
    let events = p.events("bid.submitted").await;
    assert_eq!(events.len(), 50);
    assert_eq!(events.iter().filter(|e| e["replaces_bid_id"].is_null()).count(), 1, "only the first replaced nothing");
    // Each event replaces the bid of the one before it: one unbroken chain.
    for pair in events.windows(2) {
        assert_eq!(pair[1]["replaces_bid_id"], pair[0]["bid_id"]);
    }
    p.service.stop().await;
}
