//! Certificate requests and their approval: the happy path, exactly-once issuance, bad input,
//! tenant ownership and scopes.

use crate::{Certauth, TempDir, ca_pem, issue, openssl, provider, request_body, tenant, verify_id};
use serde_json::json;
use x509_cert::builder::Builder;

#[tokio::test]
async fn a_request_approved_by_the_operator_yields_a_certificate_that_verifies_and_chains_to_the_ca() {
    let c = Certauth::start().await;
    let t = tenant();
    let p = provider();
    let key = aex_certauth::domain::ca::generate_key().unwrap();
    let (status, request) = c.tenant(&t).post("/v1/certificates/request", &request_body(&p, &key)).await;
    assert_eq!(status, 201, "{request}");
    assert_eq!(request["status"], "PENDING");
    assert_eq!(request["provider_id"], p.as_str());
    assert_eq!(request["certificate_type"], "CAPABILITY");
    assert!(request["request_id"].as_str().unwrap().starts_with("certreq_"));
    assert!(request["created_at"].as_str().is_some());

    let id = request["request_id"].as_str().unwrap();
    let (status, issued) = c.admin().post(&format!("/v1/certificates/requests/{id}/approve"), &json!({})).await;
    assert_eq!(status, 200, "{issued}");
    let cert_id = issued["certificate_id"].as_str().unwrap();
    assert!(cert_id.starts_with("cert_"));

    let (status, cert) = c.tenant(&t).get(&format!("/v1/certificates/{cert_id}")).await;
    assert_eq!(status, 200, "{cert}");
    assert_eq!(cert["status"], "ACTIVE");
    assert_eq!(cert["key_version"], 1);
    assert_eq!(cert["fingerprint"].as_str().unwrap().len(), 64);
    assert_eq!(cert["certificate"]["signature_algorithm"], "ECDSA-P256-SHA256");
    assert_eq!(cert["certificate"]["claims"][0]["category"], "translation");
    assert_eq!(cert["certificate"]["signature"], cert["signature"]);
    assert!(cert.to_string().find("PRIVATE").is_none(), "no private key material in a response");

    let verdict = verify_id(&c, cert_id).await;
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["certificate_id"], cert_id);
    assert_eq!(verdict["provider_id"], p.as_str());
    assert_eq!(verdict["status"], "ACTIVE");
    assert_eq!(verdict["errors"], json!([]));
    assert!(verdict["reason"].is_null());

    // The X.509 leaf chains to the CA certificate of its key version.
    let dir = TempDir::new();
    let ca = dir.write("ca.pem", ca_pem(&c, 1).await.as_bytes());
    let leaf = dir.write("leaf.pem", cert["x509_pem"].as_str().unwrap().as_bytes());
    let (ok, out) = openssl(&["verify".as_ref(), "-CAfile".as_ref(), ca.as_os_str(), leaf.as_os_str()]);
    assert!(ok, "openssl verify: {out}");
    let (ok, text) = openssl(&["x509".as_ref(), "-noout".as_ref(), "-text".as_ref(), "-in".as_ref(), leaf.as_os_str()]);
    assert!(ok);
    assert!(text.contains("1.3.6.1.4.1.32473.7247.1"), "claims extension present:\n{text}");
    assert!(text.contains("CN = Translator Agent") || text.contains("CN=Translator Agent"), "{text}");

    // Both events were written with their changes.
    assert_eq!(c.certificate_subjects().await, ["crl.updated", "certificate.requested", "certificate.issued"]);
    // The issuance recomputed the provider's reputation in the same transaction.
    assert_eq!(c.outbox_subjects().await[3..], ["reputation.updated", "trust.score_updated", "trust.tier_changed"]);
    c.service.stop().await;
}

#[tokio::test]
async fn approving_twice_or_five_hundred_times_at_once_issues_one_certificate() {
    let c = Certauth::start().await;
    let t = tenant();
    let (request_id, _) = c.tenant(&t).request(&provider()).await;
    let path = format!("/v1/certificates/requests/{request_id}/approve");
    let (_, first) = c.admin().post(&path, &json!({})).await;
    let (status, second) = c.admin().post(&path, &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(first["certificate_id"], second["certificate_id"]);

    let (other, _) = c.tenant(&t).request(&provider()).await;
    let token = c.token("tenant_operator", &["admin"]);
    let url = c.service.url(&format!("/internal/v1/certificates/{other}/approve"));
    let mut calls = Vec::new();
    for _ in 0..500 {
        let request = c.service.http.post(&url).bearer_auth(&token);
        calls.push(tokio::spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body["certificate_id"].as_str().unwrap_or_default().to_string())
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for call in calls {
        let (status, id) = call.await.unwrap();
        assert_eq!(status, 200);
        ids.insert(id);
    }
    assert_eq!(ids.len(), 1, "every approval answers the same certificate");
    let pool = c.pool().await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM certificates").fetch_one(&pool).await.unwrap();
    assert_eq!(count, 2);
    let issued: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE subject = 'certificate.issued'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(issued, 2);

    // A rejected request cannot be approved; an approved one cannot be rejected.
    let (third, _) = c.tenant(&t).request(&provider()).await;
    let (status, rejected) =
        c.admin().post(&format!("/v1/certificates/requests/{third}/reject"), &json!({ "reason": "no" })).await;
    assert_eq!((status, rejected["status"].as_str()), (200, Some("REJECTED")), "{rejected}");
    let (status, error) = c.admin().post(&format!("/v1/certificates/requests/{third}/approve"), &json!({})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("REQUEST_ALREADY_DECIDED")));
    let (status, _) = c.admin().post(&format!("/v1/certificates/requests/{request_id}/reject"), &json!({})).await;
    assert_eq!(status, 409);
    c.service.stop().await;
}

#[tokio::test]
async fn a_csr_with_proof_of_possession_is_accepted_and_a_forged_one_is_refused_with_nothing_stored() {
    let c = Certauth::start().await;
    let t = tenant();
    let key = aex_certauth::domain::ca::generate_key().unwrap();
    let name: x509_cert::name::Name = "CN=agent".parse().unwrap();
    let csr =
        x509_cert::request::RequestBuilder::new(name).unwrap().build::<_, p256::ecdsa::DerSignature>(&key).unwrap();
    let pem = x509_cert::der::EncodePem::to_pem(&csr, x509_cert::der::pem::LineEnding::LF).unwrap();
    let mut body = request_body(&provider(), &key);
    body.as_object_mut().unwrap().remove("public_key_pem");
    body["csr_pem"] = json!(pem);
    let (status, created) = c.tenant(&t).post("/v1/certificates/request", &body).await;
    assert_eq!(status, 201, "{created}");

    // The same CSR with another key swapped in: the signature no longer proves possession.
    let mut forged = csr.clone();
    let other = aex_certauth::domain::ca::generate_key().unwrap();
    forged.info.public_key = x509_cert::spki::SubjectPublicKeyInfo::from_key(other.verifying_key()).unwrap();
    body["csr_pem"] = json!(x509_cert::der::EncodePem::to_pem(&forged, x509_cert::der::pem::LineEnding::LF).unwrap());
    body["provider_id"] = json!(provider());
    let (status, error) = c.tenant(&t).post("/v1/certificates/request", &body).await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("INVALID_CSR")), "{error}");
    let pool = c.pool().await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM certificate_requests").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 1, "the forged request stored nothing");
    let owners: i64 = sqlx::query_scalar("SELECT count(*) FROM provider_owners").fetch_one(&pool).await.unwrap();
    assert_eq!(owners, 1, "nor did it claim the provider");
    c.service.stop().await;
}

#[tokio::test]
async fn bad_requests_are_refused_with_their_code_and_nothing_is_stored() {
    let c = Certauth::start().await;
    let a = c.tenant(&tenant());
    let key = aex_certauth::domain::ca::generate_key().unwrap();
    let dir = TempDir::new();
    let p384 = dir.0.join("p384.pem");
    let (ok, out) = crate::openssl(&[
        "genpkey".as_ref(),
        "-algorithm".as_ref(),
        "EC".as_ref(),
        "-pkeyopt".as_ref(),
        "ec_paramgen_curve:P-384".as_ref(),
        "-out".as_ref(),
        p384.as_os_str(),
    ]);
    assert!(ok, "{out}");
    let (ok, p384_public) = crate::openssl(&["pkey".as_ref(), "-in".as_ref(), p384.as_os_str(), "-pubout".as_ref()]);
    assert!(ok && p384_public.contains("BEGIN PUBLIC KEY"), "{p384_public}");
    let good = request_body(&provider(), &key);
    let with = |field: &str, value: serde_json::Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let cases = [
        (with("public_key_pem", json!(p384_public)), "INVALID_PUBLIC_KEY"),
        (
            with("public_key_pem", json!("-----BEGIN PUBLIC KEY-----\n%%%\n-----END PUBLIC KEY-----")),
            "INVALID_PUBLIC_KEY",
        ),
        (with("public_key_pem", json!("x".repeat(100_000))), "INVALID_PUBLIC_KEY"),
        (with("csr_pem", json!("junk")), "VALIDATION_ERROR"),
        (with("claims", json!([])), "VALIDATION_ERROR"),
        (with("claims", json!([{ "category": "a" }])), "VALIDATION_ERROR"),
        (with("certificate_type", json!("GOLD")), "VALIDATION_ERROR"),
        (with("agent_name", json!("CN=evil,O=x")), "VALIDATION_ERROR"),
        (with("provider_id", json!("")), "VALIDATION_ERROR"),
        (with("provider_id", json!(42)), "VALIDATION_ERROR"),
    ];
    for (body, code) in cases {
        let (status, error) = a.post("/v1/certificates/request", &body).await;
        assert_eq!(status, 400, "{body:.200} -> {error}");
        assert_eq!(error["error"]["code"], code, "{body:.200}");
    }
    let mut neither = good.clone();
    neither.as_object_mut().unwrap().remove("public_key_pem");
    let (status, error) = a.post("/v1/certificates/request", &neither).await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("VALIDATION_ERROR")));
    let csr_only =
        with("csr_pem", json!("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----"));
    let mut csr_only = csr_only;
    csr_only.as_object_mut().unwrap().remove("public_key_pem");
    let (status, error) = a.post("/v1/certificates/request", &csr_only).await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("INVALID_CSR")));

    let pool = c.pool().await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM certificate_requests").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 0, "nothing persisted for bad input");
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE subject LIKE 'certificate.%'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(events, 0);
    c.service.stop().await;
}

#[tokio::test]
async fn another_tenant_can_neither_request_for_an_owned_provider_nor_read_or_revoke_its_certificate() {
    let c = Certauth::start().await;
    let (a, b) = (tenant(), tenant());
    let p = provider();
    let cert = issue(&c, &a, &p).await;
    let id = cert["certificate_id"].as_str().unwrap();

    let key = aex_certauth::domain::ca::generate_key().unwrap();
    let (status, _) = c.tenant(&b).post("/v1/certificates/request", &request_body(&p, &key)).await;
    assert_eq!(status, 404, "the provider belongs to tenant A");
    let (status, body) = c.tenant(&b).get(&format!("/v1/certificates/{id}")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NOT_FOUND")));
    let (status, _) = c.tenant(&b).delete(&format!("/v1/certificates/{id}"), &json!({ "reason": "x" })).await;
    assert_eq!(status, 404);
    let (status, _) = c.tenant(&b).post(&format!("/v1/certificates/{id}/renew"), &json!({})).await;
    assert_eq!(status, 404);
    let (_, list) = c.tenant(&b).get(&format!("/v1/providers/{p}/certificates")).await;
    assert_eq!(list["total"], 0);
    assert_eq!(verify_id(&c, id).await["status"], "ACTIVE", "tenant B changed nothing");
    let (status, _) = c.tenant(&a).get(&format!("/v1/certificates/{id}")).await;
    assert_eq!(status, 200);
    c.service.stop().await;
}

#[tokio::test]
async fn routes_check_scopes_and_internal_routes_refuse_plain_tenants() {
    let c = Certauth::start().await;
    let t = tenant();
    let key = aex_certauth::domain::ca::generate_key().unwrap();
    let reader = crate::Caller { certauth: &c, token: Some(c.token(&t, &["read"])) };
    let (status, error) = reader.post("/v1/certificates/request", &request_body(&provider(), &key)).await;
    assert_eq!((status, error["error"]["code"].as_str()), (403, Some("INSUFFICIENT_SCOPE")));
    let (status, _) = c.anonymous().post("/v1/certificates/request", &request_body(&provider(), &key)).await;
    assert_eq!(status, 401);

    let (request_id, _) = c.tenant(&t).request(&provider()).await;
    let (status, _) = c.tenant(&t).post(&format!("/v1/certificates/requests/{request_id}/approve"), &json!({})).await;
    assert_eq!(status, 403, "only the operator approves");
    let (status, _) = c.tenant(&t).post(&format!("/internal/v1/certificates/{request_id}/approve"), &json!({})).await;
    assert_eq!(status, 403, "a gateway-forwarded tenant cannot reach internal routes");
    let (status, _) = c.tenant(&t).post("/v1/ca/keys/rotate", &json!({})).await;
    assert_eq!(status, 403);
    let (status, body) =
        c.service_caller().post(&format!("/internal/v1/certificates/{request_id}/approve"), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = c.admin().post("/v1/certificates/requests/certreq_missing/approve", &json!({})).await;
    assert_eq!(status, 404);
    c.service.stop().await;
}
