//! One request the database refuses does not fail the other requests batched with it.

use crate::{Settlement, tenant};
use aex_testkit::eventually;
use serde_json::json;
use std::time::Duration;

/// Reads one unlabelled gauge or counter from the service's `/metrics`.
async fn metric(s: &Settlement, name: &str) -> f64 {
    let text = s.service.http.get(s.service.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map(|value| value.trim().parse().unwrap())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_refused_request_fails_alone_and_the_hundred_batched_with_it_commit() {
    let s = Settlement::start().await;
    let pool = s.sut.pool().await;
    // A fault only the database can see: a trigger that refuses one reference. Everything a
    // request can get wrong is refused before batching; this stands for whatever is left.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.reference = 'poison' THEN RAISE EXCEPTION 'poisoned transfer'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse_poison BEFORE INSERT ON transfers FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let tenants: Vec<String> = (0..100).map(|_| tenant()).collect();
    let attacker = tenant();
    for t in tenants.iter().chain([&attacker]) {
        s.tenant(t).balance_minor().await;
    }

    // Hold the journal head so every request queues behind one batch and the next batch holds
    // them all together.
    let mut blocker = pool.begin().await.unwrap();
    sqlx::query("SELECT seq FROM journal_head WHERE singleton FOR UPDATE").execute(&mut *blocker).await.unwrap();
    let splits_before = metric(&s, "aex_ledger_batch_splits_total").await;

    let first = tenant();
    s.tenant(&first).balance_minor().await;
    let blocked = async {
        let body = json!({ "amount": "1.00" });
        s.tenant(&first).post_with_key("/v1/deposits", &body, Some("first")).await
    };
    let queued = async {
        eventually(Duration::from_secs(10), "the first batch waits for the journal head", || async {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%journal_head%'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            (waiting > 0).then_some(())
        })
        .await;
        let good = tenants.iter().enumerate().map(|(i, t)| {
            let s = &s;
            async move {
                let body = json!({ "amount": "1.00", "payment_reference": format!("good-{i}") });
                s.tenant(t).post_with_key("/v1/deposits", &body, Some(&format!("good-{i}"))).await
            }
        });
        let poison = async {
            let body = json!({ "amount": "5.00", "payment_reference": "poison" });
            s.tenant(&attacker).post_with_key("/v1/deposits", &body, Some("poison")).await
        };
        tokio::join!(futures::future::join_all(good), poison)
    };
    let release = async {
        eventually(Duration::from_secs(10), "every request queued behind the first batch", || async {
            (metric(&s, "aex_ledger_queue_depth").await >= 101.0).then_some(())
        })
        .await;
        blocker.rollback().await.unwrap();
    };
    let (first_answer, (answers, poisoned), ()) = tokio::join!(blocked, queued, release);
    assert_eq!(first_answer.0, 201, "{}", first_answer.1);

    for (i, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, 201, "good request {i}: {body}");
    }
    assert_eq!(poisoned.0, 500, "{}", poisoned.1);
    assert_eq!(poisoned.1["error"]["code"], "INTERNAL_ERROR");
    assert!(metric(&s, "aex_ledger_batch_splits_total").await > splits_before, "the batch was split to isolate it");

    // Each good deposit is there once, the refused one not at all, and the books balance.
    for t in &tenants {
        assert_eq!(s.tenant(t).balance_minor().await, 100);
    }
    assert_eq!(s.tenant(&attacker).balance_minor().await, 0);
    let (sum, count): (i64, i64) =
        sqlx::query_as("SELECT COALESCE(sum(debits_posted - credits_posted), 0)::int8, count(*) FROM accounts")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(sum, 0, "money is conserved over {count} accounts");
    let (status, verified) = s.admin().get("/v1/audit/journal/verify").await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["valid"], true, "{verified}");
    s.service.stop().await;
}
