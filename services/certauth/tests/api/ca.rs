//! CA keys: the well-known document, encryption at rest, restart, rotation and key revocation.

use crate::{Certauth, TempDir, ca_pem, issue, openssl, provider, tenant, verify_id};
use clap::Parser;
use serde_json::json;

#[tokio::test]
async fn the_well_known_document_publishes_the_active_key_and_every_version() {
    let c = Certauth::start().await;
    let (status, doc) = c.anonymous().get("/.well-known/aex-ca.json").await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["issuer"], "AEX Certificate Authority");
    assert_eq!(doc["algorithm"], "ECDSA-P256-SHA256");
    assert!(doc["public_key_pem"].as_str().unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
    assert!(doc["certificate"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    let keys = doc["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["version"], 1);
    assert_eq!(keys[0]["status"], "active");
    assert!(keys[0]["created_at"].as_str().is_some());
    assert!(!doc.to_string().contains("PRIVATE"));
    c.service.stop().await;
}

#[tokio::test]
async fn keys_are_encrypted_at_rest_and_certificates_still_verify_after_a_restart() {
    let c = Certauth::start().await;
    let cert = issue(&c, &tenant(), &provider()).await;
    let id = cert["certificate_id"].as_str().unwrap().to_string();
    let pool = c.pool().await;
    let (protection, sealed): (String, Vec<u8>) =
        sqlx::query_as("SELECT key_protection, sealed_private_key FROM ca_keys WHERE version = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(protection, "aes-256-gcm");
    assert_eq!(sealed.len(), 12 + 32 + 16, "nonce, sealed scalar, tag");

    let c = c.restart().await;
    let verdict = verify_id(&c, &id).await;
    assert_eq!(verdict["valid"], true, "{verdict}");
    let (_, doc) = c.anonymous().get("/.well-known/aex-ca.json").await;
    assert_eq!(doc["keys"].as_array().unwrap().len(), 1, "the key was reloaded, not regenerated");
    // And it still signs: a new certificate after the restart verifies too.
    let fresh = issue(&c, &tenant(), &provider()).await;
    assert_eq!(verify_id(&c, fresh["certificate_id"].as_str().unwrap()).await["valid"], true);
    c.service.stop().await;
}

#[tokio::test]
async fn a_wrong_kek_or_none_cannot_open_encrypted_keys_and_production_requires_a_kek() {
    let c = Certauth::start().await;
    let sut = c.sut.clone();
    c.service.stop().await;

    let wrong = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    for extra in [vec!["--ca-kek", wrong], vec![]] {
        let mut args = sut.args();
        args.extend(extra.iter().map(|s| s.to_string()));
        let config = aex_certauth::Config::try_parse_from(args).unwrap();
        let (listener, _) = aex_testkit::listener().await;
        let result = aex_certauth::run(config, listener, tokio_util::sync::CancellationToken::new()).await;
        let error = result.expect_err("the service must refuse to start").to_string();
        assert!(error.contains("certificate authority"), "{error}");
        assert!(!error.contains(wrong), "the KEK is never printed");
    }

    let mut args = sut.args();
    args.extend(["--env", "production"].map(String::from));
    let config = aex_certauth::Config::try_parse_from(args).unwrap();
    let (listener, _) = aex_testkit::listener().await;
    let error = aex_certauth::run(config, listener, tokio_util::sync::CancellationToken::new()).await.unwrap_err();
    assert!(error.to_string().contains("AEX_CA_KEK"), "{error}");

    let mut args = sut.args();
    args.extend(["--ca-kek", "too-short"].map(String::from));
    let config = aex_certauth::Config::try_parse_from(args).unwrap();
    assert!(!format!("{config:?}").contains("too-short"), "the KEK is redacted in Debug");
    let (listener, _) = aex_testkit::listener().await;
    assert!(aex_certauth::run(config, listener, tokio_util::sync::CancellationToken::new()).await.is_err());
}

#[tokio::test]
async fn development_without_a_kek_stores_keys_flagged_as_unencrypted() {
    let sut = aex_testkit::ServiceUnderTest::new("aex-certauth", aex_certauth::SCHEMA);
    let service = crate::start_on(&sut, &[]).await;
    let pool = sut.pool().await;
    let protection: String =
        sqlx::query_scalar("SELECT key_protection FROM ca_keys WHERE version = 1").fetch_one(&pool).await.unwrap();
    assert_eq!(protection, "development-plaintext");
    service.stop().await;
}

#[tokio::test]
async fn rotation_keeps_old_certificates_valid_and_a_revoked_key_version_invalidates_its_certificates() {
    let c = Certauth::start().await;
    let t = tenant();
    let old = issue(&c, &t, &provider()).await;
    let old_id = old["certificate_id"].as_str().unwrap().to_string();

    let (status, rotated) = c.admin().post("/v1/ca/keys/rotate", &json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["version"], 2);
    assert_eq!(rotated["status"], "active");
    let new = issue(&c, &t, &provider()).await;
    assert_eq!(new["key_version"], 2, "new certificates are signed by the new version");
    assert_eq!(old["key_version"], 1);
    assert_eq!(verify_id(&c, &old_id).await["valid"], true, "the retired version still verifies");

    let (_, doc) = c.anonymous().get("/.well-known/aex-ca.json").await;
    let statuses: Vec<&str> = doc["keys"].as_array().unwrap().iter().map(|k| k["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["retired", "active"]);

    // The new leaf chains to version 2's CA certificate and not to version 1's.
    let dir = TempDir::new();
    let leaf = dir.write("leaf.pem", new["x509_pem"].as_str().unwrap().as_bytes());
    let v2 = dir.write("v2.pem", ca_pem(&c, 2).await.as_bytes());
    let v1 = dir.write("v1.pem", ca_pem(&c, 1).await.as_bytes());
    assert!(openssl(&["verify".as_ref(), "-CAfile".as_ref(), v2.as_os_str(), leaf.as_os_str()]).0);
    assert!(!openssl(&["verify".as_ref(), "-CAfile".as_ref(), v1.as_os_str(), leaf.as_os_str()]).0);

    let (status, revoked) = c.admin().post("/v1/ca/keys/1/revoke", &json!({})).await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    let verdict = verify_id(&c, &old_id).await;
    assert_eq!(verdict["valid"], false);
    assert_eq!(verdict["reason"], "revoked_key", "{verdict}");
    assert_eq!(verify_id(&c, new["certificate_id"].as_str().unwrap()).await["valid"], true);

    // Revoking the active version stops it signing at once: a fresh version takes over.
    let (status, _) = c.admin().post("/v1/ca/keys/2/revoke", &json!({})).await;
    assert_eq!(status, 200);
    let newest = issue(&c, &t, &provider()).await;
    assert_eq!(newest["key_version"], 3);
    assert_eq!(verify_id(&c, new["certificate_id"].as_str().unwrap()).await["reason"], "revoked_key");
    let (status, _) = c.admin().post("/v1/ca/keys/99/revoke", &json!({})).await;
    assert_eq!(status, 404);
    let (status, _) = c.admin().post("/v1/ca/keys/abc/revoke", &json!({})).await;
    assert_eq!(status, 404);
    c.service.stop().await;
}

#[tokio::test]
async fn concurrent_rotations_leave_exactly_one_active_version() {
    let c = Certauth::start().await;
    let token = c.token("tenant_operator", &["admin"]);
    let url = c.service.url("/v1/ca/keys/rotate");
    let mut calls = Vec::new();
    for _ in 0..8 {
        let request = c.service.http.post(&url).bearer_auth(&token);
        calls.push(tokio::spawn(async move { request.send().await.unwrap().status().as_u16() }));
    }
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    let pool = c.pool().await;
    let (total, active): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE status = 'active') FROM ca_keys")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((total, active), (9, 1));
    c.service.stop().await;
}
