//! The marketplace story that `aex demo` tells, with every response and every cent checked.

use crate::market::{self, balance, bid, certified_provider, eventually, funded_consumer, submit};
use aex_client::PageParams;
use aex_client::marketplace::{ContractResult, ProgressReport};
use std::time::Instant;

#[tokio::test]
async fn work_is_bid_ranked_awarded_executed_and_paid_out_to_the_cent_with_a_verifiable_receipt() {
    let started = Instant::now();
    let stack = aex_e2e::stack();
    let category = market::category();
    let providers =
        [certified_provider(&category).await, certified_provider(&category).await, certified_provider(&category).await];
    let (consumer_tenant, consumer) = funded_consumer(100_000).await;
    assert_eq!(balance(&consumer).await, (100_000, 0));

    // The providers see the work by polling, and bid; the prices stay sealed until close.
    let work = submit(&consumer, &category, 50_000).await;
    for provider in &providers {
        let open = provider
            .client
            .work()
            .list(&aex_client::marketplace::ListWork { status: Some("OPEN".into()), page: PageParams::default() })
            .await
            .unwrap();
        assert!(open.items.iter().any(|w| w.work_id == work), "the subscribed provider sees the open work");
    }
    let bids = [
        bid(&providers[0], &work, 42_000, 0.9).await,
        bid(&providers[1], &work, 30_000, 0.9).await,
        bid(&providers[2], &work, 36_000, 0.9).await,
    ];
    let sealed = consumer.bids().for_work(&work).await.unwrap_err();
    assert_eq!(sealed.code(), Some("BIDS_SEALED"));

    // The window closes by timer, the evaluator ranks every bid with full data.
    let ranking = market::evaluation(&consumer, &work).await;
    assert_eq!((ranking.total_bids, ranking.valid_bids), (3, 3));
    assert!(ranking.degraded.is_empty(), "trust and certification were available: {:?}", ranking.degraded);
    let order: Vec<_> = ranking.ranked_bids.iter().map(|r| r.bid_id.clone()).collect();
    assert_eq!(order, vec![bids[1].clone(), bids[2].clone(), bids[0].clone()], "equal quality: cheapest first");
    assert!(ranking.ranked_bids.iter().all(|r| r.scores.certification == Some(1.0)));

    // The best bid wins; its price is held in escrow.
    let contract = market::award_best(&consumer, &work).await;
    assert_eq!((contract.bid_id.clone(), contract.agreed_price_minor), (bids[1].clone(), 30_000));
    assert_eq!(contract.status, "AWARDED");
    assert_eq!(balance(&consumer).await, (70_000, 30_000));
    let winner = &providers[1];
    let held = consumer.settlements().get(contract.contract_id.as_str()).await.unwrap();
    assert_eq!((held.status.as_str(), held.price_minor), ("HELD", 30_000));

    // The winner executes and completes.
    let progressed = winner
        .client
        .contracts()
        .report_progress(&contract.contract_id, &ProgressReport { percent: Some(50), ..ProgressReport::default() })
        .await
        .unwrap();
    assert_eq!(progressed.status, "EXECUTING");
    let done = winner
        .client
        .contracts()
        .complete(
            &contract.contract_id,
            &ContractResult { success: true, result_summary: Some("translated".into()), ..ContractResult::default() },
        )
        .await
        .unwrap();
    assert_eq!((done.status.as_str(), done.settlement_initiated), ("COMPLETED", true));
    assert_eq!(consumer.work().get(&work).await.unwrap().status, "COMPLETED");

    // Settlement pays out with fees: the consumer's debit is exactly payout + platform fee +
    // protocol fee, and the provider receives the payout.
    let settled = market::settlement(&consumer, contract.contract_id.as_str(), "SETTLED").await;
    let payout = settled.payout_minor.unwrap();
    let platform_fee = settled.platform_fee_minor.unwrap();
    let protocol_fee = settled.protocol_fee_minor.unwrap();
    assert!(platform_fee > 0 && protocol_fee > 0, "{settled:?}");
    assert_eq!(payout + platform_fee + protocol_fee, 30_000);
    assert_eq!(balance(&consumer).await, (70_000, 0), "debited exactly the price");
    assert_eq!(balance(&winner.client).await, (payout, 0));
    for loser in [&providers[0], &providers[2]] {
        assert_eq!(balance(&loser.client).await, (0, 0));
    }

    // The receipt verifies against the published key; a changed one does not.
    let receipt = winner.client.settlements().receipt(contract.contract_id.as_str()).await.unwrap();
    assert!(consumer.settlements().verify_receipt(&receipt).await.unwrap().valid);
    let mut forged = receipt.clone();
    forged.receipt.insert("payout_minor".into(), "999999".into());
    assert!(!consumer.settlements().verify_receipt(&forged).await.unwrap().valid);
    let keys = stack.anonymous().settlements().receipt_keys().await.unwrap();
    assert!(!keys.keys.is_empty(), "the receipt key is published for offline verification");

    // Reputation follows the settled contract; the journal chain verifies.
    let reputation = eventually("the reputation update", || async {
        let reputation = consumer.reputation().of(winner.provider_id.as_str()).await.ok()?;
        (reputation.contracts >= 1).then_some(reputation)
    })
    .await;
    assert_eq!((reputation.contracts, reputation.successes), (1, 1));
    let leaderboard = consumer.reputation().leaderboard(PageParams::limit(100)).await.unwrap();
    assert!(leaderboard.items.iter().any(|e| e.provider_id == winner.provider_id.as_str()));
    let journal = stack.operator().audit().verify_journal().await.unwrap();
    assert!(journal.valid && journal.balance_mismatches.is_empty(), "{journal:?}");
    let replay = consumer.audit().replay_deal(contract.contract_id.as_str()).await.unwrap();
    assert!(replay.chain_valid && replay.consistent, "{replay:?}");
    drop(consumer_tenant);
    println!("story: complete marketplace run in {:.1} s", started.elapsed().as_secs_f64());
}
