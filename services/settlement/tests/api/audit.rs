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

#[tokio::test]
async fn a_signed_head_exposes_even_a_consistently_rewritten_chain() {
    let sut = aex_testkit::ServiceUnderTest::new("aex-settlement", aex_settlement::SCHEMA);
    let mut args = sut.args();
    args.extend(["--journal-sign-interval-seconds".to_string(), "1".to_string()]);
    let config = <aex_settlement::Config as clap::Parser>::try_parse_from(args).unwrap();
    let service =
        aex_testkit::spawn_service(|listener, shutdown| aex_settlement::run(config, listener, shutdown)).await;
    let s = Settlement::from_parts(service, sut);
    let a = s.tenant(&tenant());
    for amount in ["1.00", "2.00", "3.00"] {
        a.deposit(amount).await;
    }
    let admin = s.admin();
    aex_testkit::eventually(std::time::Duration::from_secs(10), "the head signed at seq 3", || async {
        let (_, export) = admin.get("/v1/audit/journal").await;
        (export["signed_head"]["seq"] == 3).then_some(())
    })
    .await;
    let (_, clean) = admin.get("/v1/audit/journal/verify").await;
    assert_eq!((clean["valid"].as_bool(), clean["signed_head_seq"].as_i64()), (Some(true), Some(3)), "{clean}");

    // An attacker with database access rewrites entry 2 (its time, which no other table repeats)
    // and recomputes every later hash and the head: the chain is self-consistent again and
    // still matches the transfers, but no longer ends where it was signed.
    let pool = s.sut.pool().await;
    let links: Vec<(i64, String, Vec<u8>)> =
        sqlx::query_as("SELECT seq, entry, prev_hash FROM journal ORDER BY seq").fetch_all(&pool).await.unwrap();
    let mut prev = links[0].2.clone();
    for (seq, entry, _) in &links {
        let entry = if *seq == 2 { entry.replace("\"created_at\":\"2", "\"created_at\":\"1") } else { entry.clone() };
        let mut hasher = Sha256::new();
        hasher.update(&prev);
        hasher.update(entry.as_bytes());
        let hash = hasher.finalize().to_vec();
        sqlx::query("UPDATE journal SET entry = $2, prev_hash = $3, hash = $4 WHERE seq = $1")
            .bind(seq)
            .bind(&entry)
            .bind(&prev)
            .bind(&hash)
            .execute(&pool)
            .await
            .unwrap();
        prev = hash;
    }
    sqlx::query("UPDATE journal_head SET hash = $1").bind(&prev).execute(&pool).await.unwrap();
    let (_, broken) = admin.get("/v1/audit/journal/verify").await;
    assert_eq!(broken["valid"], false, "{broken}");
    assert_eq!(broken["first_break"]["seq"], 3, "{broken}");
    assert_eq!(broken["first_break"]["reason"], "the chain no longer ends where it was signed");
}
