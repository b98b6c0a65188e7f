//! Duplicate delivery: the same completion reported twice — as a retry with the same
//! idempotency key, and as a second request — settles once.

use crate::market::{self, balance, bid, certified_provider, funded_consumer, submit};
use aex_client::marketplace::{ContractResult, ProgressReport};

#[tokio::test]
async fn the_same_completion_reported_twice_settles_once() {
    let category = market::category();
    let provider = certified_provider(&category).await;
    let (_, consumer) = funded_consumer(20_000).await;
    let work = submit(&consumer, &category, 10_000).await;
    bid(&provider, &work, 9_000, 0.8).await;
    market::evaluation(&consumer, &work).await;
    let contract = market::award_best(&consumer, &work).await;
    provider.client.contracts().report_progress(&contract.contract_id, &ProgressReport::default()).await.unwrap();

    let result = ContractResult { success: true, result_summary: Some("done".into()), ..ContractResult::default() };
    let key = format!("complete-{}", aex_testkit::unique_suffix());
    let (one, two) =
        (provider.client.contracts().idempotency_key(&key), provider.client.contracts().idempotency_key(&key));
    let (first, replayed) =
        futures::join!(one.complete(&contract.contract_id, &result), two.complete(&contract.contract_id, &result),);
    let answers = [first, replayed];
    let completed: Vec<_> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
    assert!(!completed.is_empty(), "{answers:?}");
    assert!(completed.iter().all(|c| c.status == "COMPLETED"));
    for refused in answers.iter().filter_map(|a| a.as_ref().err()) {
        // A concurrent duplicate may be told the first is still in progress.
        assert_eq!(refused.code(), Some("REQUEST_IN_PROGRESS"), "{refused}");
    }
    let again = provider.client.contracts().complete(&contract.contract_id, &result).await.unwrap_err();
    assert_eq!((again.status(), again.code()), (Some(409), Some("INVALID_CONTRACT_STATE")));

    let settled = market::settlement(&consumer, contract.contract_id.as_str(), "SETTLED").await;
    let payout = settled.payout_minor.unwrap();
    assert_eq!(balance(&consumer).await, (11_000, 0), "debited once");
    assert_eq!(balance(&provider.client).await, (payout, 0), "paid once");
    let replay = consumer.audit().replay_deal(contract.contract_id.as_str()).await.unwrap();
    assert!(replay.consistent, "{replay:?}");
    let payouts = replay.entries.iter().filter(|e| e.code.contains("payout")).count();
    assert_eq!(payouts, 1, "{:?}", replay.entries);
}
