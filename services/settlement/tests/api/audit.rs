//! The journal: export for offline verification, and detection of any edit.

use crate::{Settlement, tenant};
use sha2::{Digest, Sha256};

#[tokio::test]
async fn the_exported_chain_reverifies_offline() {
    let s = Settlement::start().await;
    let a = s.tenant(&tenant());
    for amount in ["1.00", "2.00", "3.00"] {
        a.deposit(amount).await;
    }
    let (status, export) = s.admin().get("/v1/audit/journal").await;
    assert_eq!(status, 200, "{export}");
    let links = export["links"].as_array().unwrap();
    assert_eq!(links.len(), 3);
    let mut prev = hex::decode(export["genesis_hash"].as_str().unwrap()).unwrap();
    assert_eq!(prev, vec![0u8; 32]);
    for link in links {
        let mut hasher = Sha256::new();
        hasher.update(&prev);
        hasher.update(link["entry"].as_str().unwrap().as_bytes());
        let hash = hasher.finalize().to_vec();
        assert_eq!(hex::encode(&hash), link["hash"].as_str().unwrap());
        prev = hash;
    }
    assert_eq!(hex::encode(prev), export["head_hash"].as_str().unwrap());
    let entry: serde_json::Value = serde_json::from_str(links[1]["entry"].as_str().unwrap()).unwrap();
    assert_eq!(entry["amount_minor"], "200");
}

#[tokio::test]
async fn an_edited_entry_or_balance_is_reported_at_the_first_break() {
    let s = Settlement::start().await;
    let a = s.tenant(&tenant());
    for amount in ["1.00", "2.00", "3.00"] {
        a.deposit(amount).await;
    }
    let admin = s.admin();
    let (_, clean) = admin.get("/v1/audit/journal/verify").await;
    assert_eq!(clean["valid"], true, "{clean}");

    let pool = s.sut.pool().await;
    sqlx::query("UPDATE journal SET entry = replace(entry, '\"200\"', '\"20000\"') WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    let (_, broken) = admin.get("/v1/audit/journal/verify").await;
    assert_eq!(broken["valid"], false);
    assert_eq!(broken["first_break"]["seq"], 2, "{broken}");

    sqlx::query("UPDATE journal SET entry = replace(entry, '\"20000\"', '\"200\"') WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE accounts SET credits_posted = credits_posted + 1 WHERE kind = 'tenant'")
        .execute(&pool)
        .await
        .unwrap();
    let (_, skewed) = admin.get("/v1/audit/journal/verify").await;
    assert_eq!(skewed["valid"], false);
    assert!(skewed["first_break"].is_null(), "{skewed}");
    assert_eq!(skewed["balance_mismatches"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn journal_routes_are_for_operators_only() {
    let s = Settlement::start().await;
    let (status, error) = s.tenant(&tenant()).get("/v1/audit/journal/verify").await;
    assert_eq!(status, 403);
    assert_eq!(error["error"]["code"], "INSUFFICIENT_SCOPE");
}
