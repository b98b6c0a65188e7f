//! What settlement reports: deal replay, agent revenue, fee tiers, usage and the market feed.

use crate::{Settlement, settle_deal, tenant};

#[tokio::test]
async fn a_deal_replays_with_a_valid_chain_and_consistent_balances() {
    let s = Settlement::start().await;
    let (consumer, provider) = (tenant(), tenant());
    let contract = settle_deal(&s, &consumer, &provider, "prov_a", "99.00", "translation").await;
    let (status, replay) = s.tenant(&consumer).get(&format!("/v1/audit/deals/{contract}/replay")).await;
    assert_eq!(status, 200, "{replay}");
    assert_eq!(replay["chain_valid"], true, "{replay}");
    assert_eq!(replay["consistent"], true, "{replay}");
    assert_eq!(replay["entries"].as_array().unwrap().len(), 5);
    let balances = replay["balances"].as_object().unwrap();
    assert_eq!(balances.values().map(|v| v.as_i64().unwrap()).sum::<i64>(), 0);
    assert!(balances.values().any(|v| v == -9900), "the consumer paid 99.00");
    assert!(balances.values().any(|v| v == 8110), "the provider received 81.10 (vector: 99.00 at starter)");
    let (status, _) = s.tenant(&tenant()).get(&format!("/v1/audit/deals/{contract}/replay")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_tier_follows_thirty_day_volume_excluding_the_deal_being_settled() {
    let s = Settlement::start().await;
    let (consumer, provider) = (tenant(), tenant());
    // Exactly 10k settled: the growth threshold, inclusive.
    settle_deal(&s, &consumer, &provider, "prov_b", "10000.00", "code").await;
    let (status, tier) = s.tenant(&provider).get("/v1/fees/tiers/prov_b").await;
    assert_eq!(status, 200, "{tier}");
    assert_eq!(tier["tier"], "growth");
    assert_eq!(tier["volume_30d_minor"], 1_000_000);
    assert_eq!(tier["next_tier"], "scale");
    // The next deal pays growth rates: 1000.00 -> platform 150.00, protocol 20.20 (vector).
    let second = settle_deal(&s, &consumer, &provider, "prov_b", "1000.00", "code").await;
    let (_, view) = s.tenant(&provider).get(&format!("/v1/settlements/{second}")).await;
    assert_eq!((view["tier"].as_str(), view["protocol_fee_minor"].as_i64()), (Some("growth"), Some(2020)));
    assert_eq!(view["payout_minor"], 82980);
    let (status, _) = s.tenant(&consumer).get("/v1/fees/tiers/prov_b").await;
    assert_eq!(status, 404, "only the provider's tenant sees its volume");

    let (status, revenue) = s.tenant(&provider).get("/v1/audit/agents/prov_b/revenue").await;
    assert_eq!(status, 200, "{revenue}");
    assert_eq!(revenue["deals"], 2);
    assert_eq!(revenue["gross_minor"], 1_100_000);
    let items = revenue["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for item in items {
        let parts = item["platform_fee_minor"].as_i64().unwrap()
            + item["protocol_fee_minor"].as_i64().unwrap()
            + item["net_minor"].as_i64().unwrap();
        assert_eq!(parts, item["credit_minor"].as_i64().unwrap());
    }
    assert_eq!(
        revenue["platform_fees_minor"].as_i64().unwrap()
            + revenue["protocol_fees_minor"].as_i64().unwrap()
            + revenue["net_minor"].as_i64().unwrap(),
        1_100_000
    );
    let (status, _) = s.tenant(&consumer).get("/v1/audit/agents/prov_b/revenue").await;
    assert_eq!(status, 404);

    let (_, usage) = s.tenant(&consumer).get("/v1/usage").await;
    assert_eq!((usage["contracts_paid"].as_i64(), usage["spent_minor"].as_i64()), (Some(2), Some(1_100_000)));
    let (_, usage) = s.tenant(&provider).get("/v1/usage").await;
    assert_eq!(usage["contracts_delivered"], 2);
    let (_, transactions) = s.tenant(&consumer).get("/v1/usage/transactions?limit=3").await;
    assert_eq!(transactions["transactions"].as_array().unwrap().len(), 3);
    assert!(transactions["total"].as_i64().unwrap() >= 6);
}

#[tokio::test]
async fn the_market_feed_is_delayed_and_k_anonymous() {
    let s = Settlement::start().await;
    let provider = tenant();
    for price in ["10.00", "20.00", "30.00", "40.00", "50.00"] {
        settle_deal(&s, &tenant(), &provider, "prov_c", price, "translation").await;
    }
    for price in ["10.00", "20.00", "30.00", "40.00"] {
        settle_deal(&s, &tenant(), &provider, "prov_c", price, "rare").await;
    }
    let (status, premium) = s.tenant(&tenant()).get("/v1/market/feed/premium").await;
    assert_eq!(status, 200);
    let lines = premium["categories"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "categories under 5 deals are left out: {premium}");
    assert_eq!(lines[0]["category"], "translation");
    assert_eq!((lines[0]["deals"].as_i64(), lines[0]["volume_minor"].as_i64()), (Some(5), Some(15000)));
    assert_eq!(lines[0]["median_price_minor"], 3000);

    let anonymous = s.service.http.get(s.service.url("/v1/market/feed")).send().await.unwrap();
    let public: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(public["categories"].as_array().unwrap().len(), 0, "nothing settled an hour ago yet");
    let pool = s.sut.pool().await;
    sqlx::query("UPDATE settlements SET settled_at = settled_at - interval '2 hours'").execute(&pool).await.unwrap();
    let public: serde_json::Value =
        s.service.http.get(s.service.url("/v1/market/feed")).send().await.unwrap().json().await.unwrap();
    assert_eq!(public["categories"][0]["deals"], 5);
    assert_eq!(public["delayed_hours"], 1);
}
