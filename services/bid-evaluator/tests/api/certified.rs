//! Certification through the real certauth: a revoked certificate takes its component away on
//! the next evaluation, and work requiring the capability disqualifies the provider.

#![allow(clippy::float_arithmetic)]

#[path = "../support/real.rs"]
mod real;

use real::Real;
use serde_json::{Value, json};

fn scores_of<'a>(evaluation: &'a Value, provider_id: &str) -> &'a Value {
    evaluation["ranked_bids"]
        .as_array()
        .and_then(|bids| bids.iter().find(|b| b["provider_id"] == provider_id))
        .map(|b| &b["scores"])
        .unwrap_or_else(|| panic!("{provider_id} not ranked in {evaluation}"))
}

#[tokio::test]
async fn a_revoked_certificate_loses_its_certification_on_the_next_evaluation() {
    let r = Real::start().await;
    let (certified_tenant, certified) = r.provider().await;
    let (plain_tenant, plain) = r.provider().await;
    let certificate_id = r.certify(&certified_tenant, &certified).await;

    let (consumer, work_id) = r.work(None).await;
    r.bid(&certified_tenant, &work_id, "30.00").await;
    r.bid(&plain_tenant, &work_id, "30.00").await;
    let (needs_consumer, needs_work) = r.work(Some(vec!["translation.en-de"])).await;
    r.bid(&certified_tenant, &needs_work, "30.00").await;
    r.bid(&plain_tenant, &needs_work, "30.00").await;
    r.close_window(&work_id).await;
    r.close_window(&needs_work).await;

    let first = r.evaluation(&consumer, &work_id).await;
    assert_eq!(first["degraded"], json!([]), "{first}");
    assert_eq!(scores_of(&first, &certified)["certification"], 1.0);
    assert_eq!(scores_of(&first, &plain)["certification"], 0.0);
    assert_eq!(first["ranked_bids"][0]["provider_id"], certified.as_str(), "equal otherwise: the certified wins");
    let needs = r.evaluation(&needs_consumer, &needs_work).await;
    assert_eq!(needs["valid_bids"], 1, "{needs}");
    assert_eq!(needs["disqualified_bids"][0]["reason"], "MISSING_CERTIFIED_CAPABILITY", "{needs}");

    // The provider's certificate is revoked: certauth answers without the capability at once.
    let (status, revoked) = r
        .call(
            &r.certauth,
            reqwest::Method::DELETE,
            &format!("/v1/certificates/{certificate_id}"),
            &r.admin_token(),
            Some(json!({ "reason": "key compromise" })),
        )
        .await;
    assert_eq!(status, 200, "{revoked}");
    let again = r.reevaluate(&work_id).await;
    assert_ne!(again["evaluation_id"], first["evaluation_id"]);
    assert_eq!(scores_of(&again, &certified)["certification"], 0.0, "{again}");
    let needs_again = r.reevaluate(&needs_work).await;
    assert_eq!(needs_again["valid_bids"], 0, "{needs_again}");
    r.stop().await;
}

#[tokio::test]
async fn certauth_stopped_degrades_the_evaluation_and_certauth_back_restores_full_scores() {
    let mut r = Real::start().await;
    let (tenant, provider) = r.provider().await;
    r.certify(&tenant, &provider).await;
    let (consumer, work_id) = r.work(None).await;
    r.bid(&tenant, &work_id, "40.00").await;

    r.stop_certauth().await;
    r.close_window(&work_id).await;
    let degraded = r.evaluation(&consumer, &work_id).await;
    assert_eq!(degraded["degraded"], json!(["trust", "certification"]), "{degraded}");
    assert_eq!(scores_of(&degraded, &provider)["trust"], Value::Null, "no score is invented");
    assert_eq!(scores_of(&degraded, &provider)["certification"], Value::Null);
    // Price 0.6, confidence 0.9, sample 0.5, SLA 0.5 over the weights left (0.25+0.15+0.10+0.10).
    let expected = (0.25 * 0.6 + 0.15 * 0.9 + 0.10 * 0.5 + 0.10 * 0.5) / 0.6;
    let total = degraded["ranked_bids"][0]["total_score"].as_f64().unwrap();
    assert!((total - expected).abs() < 1e-9, "{total} vs {expected}");

    r.start_certauth_again().await;
    let full = aex_testkit::eventually(std::time::Duration::from_secs(30), "certauth to answer again", || async {
        let token = r.tokens.mint("work-publisher", None, &[], None).unwrap();
        let (status, body) = r
            .call(
                &r.evaluator,
                reqwest::Method::POST,
                "/internal/v1/evaluate",
                &token,
                Some(json!({ "work_id": work_id })),
            )
            .await;
        (status == 200 && body["degraded"] == json!([])).then_some(body)
    })
    .await;
    assert_eq!(scores_of(&full, &provider)["certification"], 1.0, "{full}");
    assert!(scores_of(&full, &provider)["trust"].is_number());
    r.stop().await;
}
