//! The paths where no money moves to the provider: a failed contract, cancelled work and an
//! expired contract each leave the consumer whole.

use crate::market::{self, balance, bid, certified_provider, eventually, funded_consumer, submit};
use aex_client::marketplace::{ContractFailure, ProgressReport};
use std::time::Instant;

#[tokio::test]
async fn a_failed_contract_releases_the_hold_and_the_consumer_is_whole_again() {
    let started = Instant::now();
    let category = market::category();
    let provider = certified_provider(&category).await;
    let (_, consumer) = funded_consumer(20_000).await;
    let work = submit(&consumer, &category, 10_000).await;
    bid(&provider, &work, 8_000, 0.8).await;
    market::evaluation(&consumer, &work).await;
    let contract = market::award_best(&consumer, &work).await;
    assert_eq!(balance(&consumer).await, (12_000, 8_000));

    provider.client.contracts().report_progress(&contract.contract_id, &ProgressReport::default()).await.unwrap();
    let failed = provider
        .client
        .contracts()
        .fail(&contract.contract_id, &ContractFailure { reason: "source_unreadable".into(), message: None })
        .await
        .unwrap();
    assert_eq!((failed.status.as_str(), failed.failed_by.as_deref()), ("FAILED", Some("provider")));
    let released = market::settlement(&consumer, contract.contract_id.as_str(), "RELEASED").await;
    assert_eq!(released.payout_minor, None);
    assert_eq!(balance(&consumer).await, (20_000, 0), "the consumer is whole again");
    assert_eq!(balance(&provider.client).await, (0, 0));
    assert_eq!(consumer.work().get(&work).await.unwrap().status, "FAILED");
    // A failure counts against the provider's record.
    let trust = eventually("the failure to reach trust", || async {
        let trust = consumer.reputation().trust(provider.provider_id.as_str()).await.ok()?;
        (trust.failures >= 1).then_some(trust)
    })
    .await;
    assert_eq!((trust.contracts, trust.failures), (1, 1));
    println!("failure path in {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test]
async fn cancelled_work_holds_nothing_and_cannot_be_awarded() {
    let category = market::category();
    let provider = certified_provider(&category).await;
    let (_, consumer) = funded_consumer(20_000).await;
    let work = submit(&consumer, &category, 10_000).await;
    let bid_id = bid(&provider, &work, 8_000, 0.8).await;
    let cancelled = consumer.work().cancel(&work).await.unwrap();
    assert_eq!(cancelled.status, "CANCELLED");
    let refused = consumer.contracts().award(&work, &aex_client::marketplace::Award::Bid(bid_id)).await.unwrap_err();
    assert_eq!((refused.status(), refused.code()), (Some(409), Some("INVALID_WORK_STATE")));
    assert_eq!(balance(&consumer).await, (20_000, 0));
}

#[tokio::test]
async fn a_contract_past_its_deadline_expires_and_its_hold_is_released() {
    let started = Instant::now();
    let category = market::category();
    let provider = certified_provider(&category).await;
    let (_, consumer) = funded_consumer(20_000).await;
    let work = submit(&consumer, &category, 10_000).await;
    bid(&provider, &work, 6_000, 0.8).await;
    market::evaluation(&consumer, &work).await;
    let contract = market::award_best(&consumer, &work).await;
    assert_eq!(balance(&consumer).await, (14_000, 6_000));

    // Nobody reports anything; the deadline passes (aex_e2e::CONTRACT_TTL_SECONDS).
    let expired = eventually("the contract to expire", || async {
        let contract = consumer.contracts().get(&contract.contract_id).await.ok()?;
        (contract.status == "EXPIRED").then_some(contract)
    })
    .await;
    assert_eq!(expired.failure_reason.as_deref(), Some("expired"));
    market::settlement(&consumer, contract.contract_id.as_str(), "RELEASED").await;
    assert_eq!(balance(&consumer).await, (20_000, 0));
    let late = provider
        .client
        .contracts()
        .complete(
            &contract.contract_id,
            &aex_client::marketplace::ContractResult { success: true, ..Default::default() },
        )
        .await
        .unwrap_err();
    assert_eq!((late.status(), late.code()), (Some(409), Some("INVALID_CONTRACT_STATE")));
    println!("expiry path in {:.1} s", started.elapsed().as_secs_f64());
}
