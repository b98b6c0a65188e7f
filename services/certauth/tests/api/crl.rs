//! Revocation and the CRL: JSON and X.509, regenerated in the revoking transaction.

use crate::{Certauth, TempDir, ca_pem, issue, openssl, provider, tenant, verify_id};
use serde_json::json;

#[tokio::test]
async fn a_revoked_certificate_is_on_the_next_crl_and_openssl_agrees() {
    let c = Certauth::start().await;
    let t = tenant();
    let cert = issue(&c, &t, &provider()).await;
    let keep = issue(&c, &t, &provider()).await;
    let id = cert["certificate_id"].as_str().unwrap();

    let (status, crl) = c.anonymous().get("/v1/crl").await;
    assert_eq!(status, 200, "{crl}");
    assert_eq!(crl["entries"], json!([]));
    let first_number = crl["crl_number"].as_i64().unwrap();

    let (status, body) =
        c.tenant(&t).delete(&format!("/v1/certificates/{id}"), &json!({ "reason": "key compromise" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "revoked");
    let (status, again) = c.tenant(&t).delete(&format!("/v1/certificates/{id}"), &json!({})).await;
    assert_eq!((status, again["status"].as_str()), (200, Some("revoked")), "revoking twice is harmless");

    let verdict = verify_id(&c, id).await;
    assert_eq!((verdict["valid"].as_bool(), verdict["reason"].as_str()), (Some(false), Some("revoked")));
    assert_eq!(verdict["status"], "REVOKED");

    let (_, crl) = c.anonymous().get("/v1/crl").await;
    assert_eq!(crl["crl_number"].as_i64().unwrap(), first_number + 1, "one new CRL for one revocation");
    assert_eq!(crl["issuer"], "AEX Certificate Authority");
    assert_eq!(crl["issuer_id"], "aex-ca-v1");
    assert!(crl["this_update"].as_str().is_some() && crl["next_update"].as_str().is_some());
    let entries = crl["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["certificate_id"], id);
    assert_eq!(entries[0]["serial"], cert["serial"]);
    assert_eq!(entries[0]["reason"], "key compromise");
    assert!(crl["signature"].as_str().is_some());

    // The JSON CRL's signature verifies with the published key over the signed canonical form.
    let (_, doc) = c.anonymous().get("/.well-known/aex-ca.json").await;
    let key = aex_certauth::domain::x509::parse_public_key_pem(doc["public_key_pem"].as_str().unwrap()).unwrap();
    let signature =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, crl["signature"].as_str().unwrap()).unwrap();
    let signature = p256::ecdsa::DerSignature::from_bytes(&signature).unwrap();
    p256::ecdsa::signature::Verifier::verify(&key, crl["signed_json"].as_str().unwrap().as_bytes(), &signature)
        .expect("the CRL signature verifies");
    let signed: serde_json::Value = serde_json::from_str(crl["signed_json"].as_str().unwrap()).unwrap();
    assert_eq!(signed["entries"], crl["entries"]);

    // openssl accepts the DER CRL, and with it reports the revoked leaf revoked and the other fine.
    let response = c.service.http.get(c.service.url("/v1/crl.der")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pkix-crl");
    let der = response.bytes().await.unwrap();
    let dir = TempDir::new();
    let ca = dir.write("ca.pem", ca_pem(&c, 1).await.as_bytes());
    let crl_der = dir.write("crl.der", &der);
    let (ok, out) = openssl(&[
        "crl".as_ref(),
        "-inform".as_ref(),
        "DER".as_ref(),
        "-in".as_ref(),
        crl_der.as_os_str(),
        "-CAfile".as_ref(),
        ca.as_os_str(),
        "-noout".as_ref(),
    ]);
    assert!(ok && out.contains("verify OK"), "openssl crl: {out}");
    let (ok, crl_pem) =
        openssl(&["crl".as_ref(), "-inform".as_ref(), "DER".as_ref(), "-in".as_ref(), crl_der.as_os_str()]);
    assert!(ok);
    let crl_pem = dir.write("crl.pem", crl_pem.as_bytes());
    let revoked = dir.write("revoked.pem", cert["x509_pem"].as_str().unwrap().as_bytes());
    let good = dir.write("good.pem", keep["x509_pem"].as_str().unwrap().as_bytes());
    let check = |leaf: &std::path::Path| {
        openssl(&[
            "verify".as_ref(),
            "-crl_check".as_ref(),
            "-CAfile".as_ref(),
            ca.as_os_str(),
            "-CRLfile".as_ref(),
            crl_pem.as_os_str(),
            leaf.as_os_str(),
        ])
    };
    let (ok, out) = check(&revoked);
    assert!(!ok && out.contains("revoked"), "openssl must report the revocation: {out}");
    let (ok, out) = check(&good);
    assert!(ok, "{out}");

    // The revocation and the CRL were recorded with it.
    let subjects = c.certificate_subjects().await;
    let tail: Vec<&str> = subjects.iter().rev().take(2).rev().map(String::as_str).collect();
    assert_eq!(tail, ["certificate.revoked", "crl.updated"]);
    // and the reputation recompute that removed the certificate's boost.
    assert_eq!(c.outbox_subjects().await.last().map(String::as_str), Some("trust.score_updated"));
    c.service.stop().await;
}

#[tokio::test]
async fn the_operator_may_revoke_any_certificate_and_bad_reasons_are_refused() {
    let c = Certauth::start().await;
    let t = tenant();
    let cert = issue(&c, &t, &provider()).await;
    let id = cert["certificate_id"].as_str().unwrap();
    let (status, _) =
        c.tenant(&t).delete(&format!("/v1/certificates/{id}"), &json!({ "reason": "x".repeat(600) })).await;
    assert_eq!(status, 400);
    let reader = crate::Caller { certauth: &c, token: Some(c.token(&t, &["read"])) };
    let (status, _) = reader.delete(&format!("/v1/certificates/{id}"), &json!({})).await;
    assert_eq!(status, 403);
    let (status, _) = c.admin().delete(&format!("/v1/certificates/{id}"), &json!({ "reason": "policy" })).await;
    assert_eq!(status, 200);
    let (_, crl) = c.anonymous().get("/v1/crl").await;
    assert_eq!(crl["entries"][0]["reason"], "policy");
    let (status, _) = c.admin().delete("/v1/certificates/cert_missing", &json!({})).await;
    assert_eq!(status, 404);
    c.service.stop().await;
}

#[tokio::test]
async fn a_crl_close_to_lapsing_is_re_signed_without_any_revocation() {
    let sut = aex_testkit::ServiceUnderTest::new("aex-certauth", aex_certauth::SCHEMA);
    let service = crate::start_on(&sut, &["--ca-kek", crate::TEST_KEK, "--crl-refresh-seconds", "1"]).await;
    let crl = |service: &aex_testkit::RunningService| {
        let request = service.http.get(service.url("/v1/crl"));
        async move { request.send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let first = crl(&service).await;
    let pool = sut.pool().await;
    // The current CRL has an hour left: less than the one-day margin.
    sqlx::query(
        "UPDATE crls SET next_update = now() + interval '1 hour' WHERE crl_number = (SELECT max(crl_number) FROM crls)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let fresh = aex_testkit::eventually(std::time::Duration::from_secs(10), "a re-signed CRL", || async {
        let latest = crl(&service).await;
        (latest["crl_number"] != first["crl_number"]).then_some(latest)
    })
    .await;
    assert_eq!(fresh["crl_number"].as_i64(), first["crl_number"].as_i64().map(|n| n + 1));
    assert_eq!(fresh["entries"], first["entries"]);
    service.stop().await;
}
