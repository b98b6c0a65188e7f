//! Signed receipts: issued once per settled deal, verifiable offline with the published key,
//! surviving restarts, and refusing any edit.

use crate::{Settlement, settle_deal, tenant};
use clap::Parser;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// What any relying party does: canonicalize the receipt and check the signature.
fn verifies_offline(receipt: &Value, signature: &str, public_key_pem: &str) -> bool {
    use base64::Engine;
    let fields: BTreeMap<String, String> =
        receipt.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
    let canonical = serde_json::to_string(&fields).unwrap();
    let key = VerifyingKey::from_public_key_pem(public_key_pem).unwrap();
    let der = base64::engine::general_purpose::STANDARD.decode(signature).unwrap();
    let signature = DerSignature::from_bytes(&der).unwrap();
    key.verify(canonical.as_bytes(), &signature).is_ok()
}

#[tokio::test]
async fn a_settled_deal_has_a_receipt_anyone_can_verify() {
    let s = Settlement::start().await;
    let (consumer, provider) = (tenant(), tenant());
    let contract = settle_deal(&s, &consumer, &provider, "prov_r", "100.00", "audit").await;
    let (status, signed) = s.tenant(&consumer).get(&format!("/v1/settlements/{contract}/receipt")).await;
    assert_eq!(status, 200, "{signed}");
    let receipt = &signed["receipt"];
    assert_eq!(receipt["contract_id"], contract.as_str());
    assert_eq!((receipt["price_minor"].as_str(), receipt["payout_minor"].as_str()), (Some("10000"), Some("8192")));
    assert_eq!(
        (receipt["platform_fee_minor"].as_str(), receipt["protocol_fee_minor"].as_str()),
        (Some("1500"), Some("308"))
    );
    assert_eq!(receipt["journal_hash"].as_str().unwrap().len(), 64);
    assert_eq!(signed["algorithm"], "ECDSA-P256-SHA256");

    let keys: Value =
        s.service.http.get(s.service.url("/v1/receipts/keys")).send().await.unwrap().json().await.unwrap();
    let published = keys["keys"][0]["public_key_pem"].as_str().unwrap();
    assert_eq!(published, signed["public_key_pem"].as_str().unwrap());
    let signature = signed["signature"].as_str().unwrap();
    assert!(verifies_offline(receipt, signature, published), "offline verification with the published key");

    let verify = |receipt: Value| {
        let body = json!({ "receipt": receipt, "signature": signature });
        let request = s
            .service
            .http
            .post(s.service.url("/v1/receipts/verify"))
            .bearer_auth(s.token(&tenant(), &["read"]))
            .json(&body);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(verify(receipt.clone()).await["valid"], true);
    let mut tampered = receipt.clone();
    tampered["payout_minor"] = json!("9192");
    assert!(!verifies_offline(&tampered, signature, published));
    let answer = verify(tampered).await;
    assert_eq!((answer["valid"].as_bool(), answer["reason"].as_str()), (Some(false), Some("bad_signature")));

    // The receipt is issued once: the provider sees the same one.
    let (_, again) = s.tenant(&provider).get(&format!("/v1/settlements/{contract}/receipt")).await;
    assert_eq!(again, signed);
    let (status, _) = s.tenant(&tenant()).get(&format!("/v1/settlements/{contract}/receipt")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn no_receipt_before_settlement_and_receipts_survive_a_restart() {
    let (service, sut) = crate::start().await;
    let s = crate::Settlement::from_parts(service, sut);
    let (consumer, provider) = (tenant(), tenant());
    let contract_id = aex_types::ContractId::new().to_string();
    s.tenant(&consumer).deposit("10.00").await;
    let hold = json!({ "contract_id": contract_id, "consumer_tenant_id": consumer, "provider_tenant_id": provider,
                       "provider_id": "prov_x", "amount": "10.00" });
    assert_eq!(s.service_caller().post("/internal/v1/holds", &hold).await.0, 201);
    let (status, error) = s.tenant(&consumer).get(&format!("/v1/settlements/{contract_id}/receipt")).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("RECEIPT_NOT_AVAILABLE")));
    s.service_caller().post("/internal/settlement/complete", &json!({ "contract_id": contract_id })).await;
    let (_, before) = s.tenant(&consumer).get(&format!("/v1/settlements/{contract_id}/receipt")).await;

    // Restart on the same schema: the same key signs, and the old receipt still verifies.
    let s = s.restart().await;
    let (_, after) = s.tenant(&consumer).get(&format!("/v1/settlements/{contract_id}/receipt")).await;
    assert_eq!(before, after);
    let keys: Value =
        s.service.http.get(s.service.url("/v1/receipts/keys")).send().await.unwrap().json().await.unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1, "no new key at restart");
    assert!(verifies_offline(
        &after["receipt"],
        after["signature"].as_str().unwrap(),
        keys["keys"][0]["public_key_pem"].as_str().unwrap()
    ));
}

#[tokio::test]
async fn the_signing_key_is_encrypted_at_rest_and_production_requires_a_kek() {
    let sut = aex_testkit::ServiceUnderTest::new("aex-settlement", aex_settlement::SCHEMA);
    let mut production = sut.args();
    production.extend(["--env".into(), "production".into()]);
    let config = <aex_settlement::Config as clap::Parser>::try_parse_from(production).unwrap();
    let (listener, _) = aex_testkit::listener().await;
    let refused = aex_settlement::run(config, listener, tokio_util::sync::CancellationToken::new()).await;
    let error = refused.expect_err("production without AEX_SETTLEMENT_KEK must not start").to_string();
    assert!(error.contains("AEX_SETTLEMENT_KEK"), "{error}");

    let mut sealed = sut.args();
    sealed.extend(["--receipt-kek".into(), "5f0e1c2d3b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0".into()]);
    let config = <aex_settlement::Config as clap::Parser>::try_parse_from(sealed).unwrap();
    let service =
        aex_testkit::spawn_service(|listener, shutdown| aex_settlement::run(config, listener, shutdown)).await;
    let pool = sut.pool().await;
    let protection: String = sqlx::query_scalar("SELECT key_protection FROM signing_keys WHERE status = 'active'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(protection, "aes-256-gcm");
    service.stop().await;
}

#[tokio::test]
async fn the_operator_rotates_the_receipt_key_old_receipts_keep_verifying_and_replicas_follow() {
    let s = Settlement::start().await;
    let config = aex_settlement::Config::try_parse_from(s.sut.args()).unwrap();
    let replica = Settlement::from_parts(
        aex_testkit::spawn_service(|l, shutdown| aex_settlement::run(config, l, shutdown)).await,
        s.sut.clone(),
    );
    let (consumer, provider) = (tenant(), tenant());
    let before = settle_deal(&s, &consumer, &provider, "prov_k", "50.00", "audit").await;
    let (_, old) = s.tenant(&consumer).get(&format!("/v1/settlements/{before}/receipt")).await;
    assert_eq!(old["receipt"]["key_version"], "1");

    let (status, refused) = s.tenant(&consumer).post("/v1/receipts/keys/rotate", &json!({})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (403, Some("INSUFFICIENT_SCOPE")), "{refused}");
    let (status, keys) = s.admin().post("/v1/receipts/keys/rotate", &json!({})).await;
    assert_eq!(status, 200, "{keys}");
    assert_eq!(keys["active_version"], 2);
    let statuses: Vec<(i64, &str)> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["version"].as_i64().unwrap(), k["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [(1, "retired"), (2, "active")]);

    // New receipts are signed with version 2; the old one still verifies with version 1.
    let after = settle_deal(&s, &consumer, &provider, "prov_k", "50.00", "audit").await;
    let (_, new) = s.tenant(&consumer).get(&format!("/v1/settlements/{after}/receipt")).await;
    assert_eq!(new["receipt"]["key_version"], "2");
    let pem = |version: i64| {
        keys["keys"].as_array().unwrap().iter().find(|k| k["version"] == version).unwrap()["public_key_pem"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(verifies_offline(&new["receipt"], new["signature"].as_str().unwrap(), &pem(2)));
    assert!(!verifies_offline(&new["receipt"], new["signature"].as_str().unwrap(), &pem(1)));
    assert!(verifies_offline(&old["receipt"], old["signature"].as_str().unwrap(), &pem(1)));
    for signed in [&old, &new] {
        let body = json!({ "receipt": signed["receipt"], "signature": signed["signature"] });
        let (_, answer) = s.tenant(&tenant()).post("/v1/receipts/verify", &body).await;
        assert_eq!(answer["valid"], true, "{answer}");
    }

    // The other replica takes the new version up by itself and signs with it.
    aex_testkit::eventually(std::time::Duration::from_secs(25), "the replica to take up version 2", || async {
        let (_, keys) = replica.tenant(&tenant()).get("/v1/receipts/keys").await;
        (keys["active_version"] == 2).then_some(())
    })
    .await;
    let third = settle_deal(&replica, &consumer, &provider, "prov_k", "50.00", "audit").await;
    let (_, from_replica) = replica.tenant(&consumer).get(&format!("/v1/settlements/{third}/receipt")).await;
    assert_eq!(from_replica["receipt"]["key_version"], "2");
    replica.service.stop().await;
    s.service.stop().await;
}
