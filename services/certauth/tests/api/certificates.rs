//! Reading, verifying, renewing and searching certificates.

use crate::{Certauth, issue, provider, tenant, verify_id};
use serde_json::json;

#[tokio::test]
async fn a_presented_credential_verifies_and_any_change_to_it_does_not() {
    let c = Certauth::start().await;
    let cert = issue(&c, &tenant(), &provider()).await;
    let credential = cert["certificate"].clone();
    // Any tenant may verify a credential presented to it (the gateway asks for `read`).
    let relying_party = tenant();
    let (status, verdict) =
        c.tenant(&relying_party).post("/v1/certificates/verify", &json!({ "certificate": credential })).await;
    assert_eq!(status, 200);
    assert_eq!(verdict["valid"], true, "{verdict}");

    let mut tampered = credential.clone();
    tampered["not_after"] = json!("2099-01-01T00:00:00Z");
    let (_, verdict) =
        c.tenant(&relying_party).post("/v1/certificates/verify", &json!({ "certificate": tampered })).await;
    assert_eq!(verdict["valid"], false);
    assert_eq!(verdict["reason"], "invalid_signature", "{verdict}");

    let mut reclaimed = credential.clone();
    reclaimed["claims"][0]["authorization"] = json!("ADMIN");
    let (_, verdict) =
        c.tenant(&relying_party).post("/v1/certificates/verify", &json!({ "certificate": reclaimed })).await;
    assert_eq!(verdict["reason"], "invalid_signature");

    let mut bad_signature = credential.clone();
    bad_signature["signature"] = json!("not base64 at all");
    let (status, verdict) =
        c.tenant(&relying_party).post("/v1/certificates/verify", &json!({ "certificate": bad_signature })).await;
    assert_eq!((status, verdict["valid"].as_bool()), (200, Some(false)));

    for body in [json!({ "certificate": "junk" }), json!({ "certificate": { "certificate_id": 5 } })] {
        let (status, verdict) = c.tenant(&relying_party).post("/v1/certificates/verify", &body).await;
        assert_eq!((status, verdict["reason"].as_str()), (200, Some("malformed_certificate")), "{body}");
    }
    let unknown = verify_id(&c, "cert_0000000000000000000000000").await;
    assert_eq!(unknown["valid"], false);
    assert_eq!(unknown["reason"], "unknown_certificate");
    let (status, _) = c.tenant(&relying_party).post("/v1/certificates/verify", &json!({})).await;
    assert_eq!(status, 400);
    let (status, _) = c.anonymous().post("/v1/certificates/verify", &json!({ "certificate": credential })).await;
    assert_eq!(status, 401, "verification needs a service token like every other route");

    // A stored credential edited in the database no longer verifies.
    let id = cert["certificate_id"].as_str().unwrap();
    let pool = c.pool().await;
    sqlx::query("UPDATE certificates SET credential = replace(credential, 'en-de', 'en-fr') WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(verify_id(&c, id).await["reason"], "invalid_signature");
    c.service.stop().await;
}

#[tokio::test]
async fn renewal_issues_a_successor_and_supersedes_the_original() {
    let c = Certauth::start().await;
    let t = tenant();
    let cert = issue(&c, &t, &provider()).await;
    let id = cert["certificate_id"].as_str().unwrap();
    let (status, renewed) = c.tenant(&t).post(&format!("/v1/certificates/{id}/renew"), &json!({})).await;
    assert_eq!(status, 201, "{renewed}");
    assert_eq!(renewed["previous_cert_id"], id);
    assert_eq!(renewed["renewal_count"], 1);
    assert_eq!(renewed["certificate"]["previous_cert_id"], id);
    assert_eq!(verify_id(&c, renewed["certificate_id"].as_str().unwrap()).await["valid"], true);
    let old = verify_id(&c, id).await;
    assert_eq!((old["valid"].as_bool(), old["reason"].as_str()), (Some(false), Some("superseded")));
    let (status, error) = c.tenant(&t).post(&format!("/v1/certificates/{id}/renew"), &json!({})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("CERTIFICATE_NOT_ACTIVE")));
    assert!(c.outbox_subjects().await.contains(&"certificate.renewed".to_string()));
    c.service.stop().await;
}

#[tokio::test]
async fn search_lists_the_callers_certificates_with_filters_and_bounds() {
    let c = Certauth::start().await;
    let (a, b) = (tenant(), tenant());
    let p = provider();
    issue(&c, &a, &p).await;
    issue(&c, &a, &provider()).await;
    issue(&c, &b, &provider()).await;

    let (status, all) = c.tenant(&a).get("/v1/certificates/search").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["total"], 2, "only tenant A's certificates");
    let (_, by_provider) = c.tenant(&a).get(&format!("/v1/certificates/search?provider_id={p}")).await;
    assert_eq!(by_provider["total"], 1);
    let (_, by_claim) = c.tenant(&a).get("/v1/certificates/search?category=translation&capability=en-de").await;
    assert_eq!(by_claim["total"], 2);
    let (_, none) = c.tenant(&a).get("/v1/certificates/search?category=translation&capability=en-fr").await;
    assert_eq!(none["total"], 0);
    let (_, revoked) = c.tenant(&a).get("/v1/certificates/search?status=REVOKED").await;
    assert_eq!(revoked["total"], 0);
    let (_, paged) = c.tenant(&a).get("/v1/certificates/search?limit=1&offset=1").await;
    assert_eq!((paged["total"].as_i64(), paged["certificates"].as_array().unwrap().len()), (Some(2), 1));
    let (_, everything) = c.admin().get("/v1/certificates/search?limit=100").await;
    assert_eq!(everything["total"], 3, "the operator sees all");
    let (_, listed) = c.tenant(&a).get(&format!("/v1/providers/{p}/certificates")).await;
    assert_eq!(listed["total"], 1);
    for bad in ["limit=0", "limit=101", "offset=-1", "status=GONE", "certificate_type=GOLD", "limit=abc"] {
        let (status, _) = c.tenant(&a).get(&format!("/v1/certificates/search?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
    }
    c.service.stop().await;
}

#[tokio::test]
async fn internal_batch_verify_and_can_perform_answer_services() {
    let c = Certauth::start().await;
    let t = tenant();
    let p = provider();
    let cert = issue(&c, &t, &p).await;
    let id = cert["certificate_id"].as_str().unwrap();
    let svc = c.service_caller();
    let (status, batch) =
        svc.post("/internal/v1/certificates/batch-verify", &json!({ "certificate_ids": [id, "cert_unknown"] })).await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!((batch["total"].as_u64(), batch["valid_count"].as_u64()), (Some(2), Some(1)));
    let (status, _) = svc.post("/internal/v1/certificates/batch-verify", &json!({ "certificate_ids": [] })).await;
    assert_eq!(status, 400);

    let path = format!("/internal/v1/providers/{p}/can-perform?category=translation&capability=en-de");
    let (status, answer) = svc.get(&path).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["can_perform"], true);
    let (_, wildcard) =
        svc.get(&format!("/internal/v1/providers/{p}/can-perform?category=summarization&capability=x")).await;
    assert_eq!(wildcard["can_perform"], true);
    let (_, no) =
        svc.get(&format!("/internal/v1/providers/{p}/can-perform?category=translation&capability=en-fr")).await;
    assert_eq!(no["can_perform"], false);
    let (status, _) = svc.get(&format!("/internal/v1/providers/{p}/can-perform")).await;
    assert_eq!(status, 400);

    c.tenant(&t).delete(&format!("/v1/certificates/{id}"), &json!({ "reason": "retired" })).await;
    let (_, after) = svc.get(&path).await;
    assert_eq!(after["can_perform"], false, "a revoked certificate grants nothing");
    c.service.stop().await;
}
