//! Tenants are isolated: a second consumer sees none of the first one's work, bids, contracts,
//! balances or receipts, whatever id it guesses.

use crate::market::{self, bid, certified_provider, funded_consumer, submit};
use aex_client::marketplace::{ContractResult, ListWork, ProgressReport};

#[tokio::test]
async fn a_second_consumer_sees_nothing_of_the_first() {
    let category = market::category();
    let provider = certified_provider(&category).await;
    let (first_tenant, first) = funded_consumer(20_000).await;
    let (_, second) = funded_consumer(5_000).await;
    let work = submit(&first, &category, 10_000).await;
    bid(&provider, &work, 7_000, 0.8).await;
    market::evaluation(&first, &work).await;
    let contract = market::award_best(&first, &work).await;
    provider.client.contracts().report_progress(&contract.contract_id, &ProgressReport::default()).await.unwrap();
    provider
        .client
        .contracts()
        .complete(&contract.contract_id, &ContractResult { success: true, ..ContractResult::default() })
        .await
        .unwrap();
    market::settlement(&first, contract.contract_id.as_str(), "SETTLED").await;

    let not_found = |error: aex_client::Error| {
        assert!(error.is_not_found() || error.is_forbidden(), "{error}");
    };
    not_found(second.work().get(&work).await.unwrap_err());
    let listed = second.work().list(&ListWork::default()).await.unwrap();
    assert!(listed.items.iter().all(|w| w.work_id != work), "another tenant's work is not listed");
    not_found(second.bids().for_work(&work).await.unwrap_err());
    not_found(second.evaluations().get(&work).await.unwrap_err());
    not_found(second.contracts().get(&contract.contract_id).await.unwrap_err());
    not_found(second.settlements().get(contract.contract_id.as_str()).await.unwrap_err());
    not_found(second.settlements().receipt(contract.contract_id.as_str()).await.unwrap_err());
    not_found(second.audit().replay_deal(contract.contract_id.as_str()).await.unwrap_err());
    // Its balance is its own.
    let balance = second.balance().get(None).await.unwrap();
    assert_eq!((balance.tenant_id.clone(), balance.available_minor), (second_tenant_id(&second).await, 5_000));
    assert_ne!(balance.tenant_id, first_tenant.tenant.id);
    // And it cannot act on the contract.
    let refused = second
        .contracts()
        .fail(&contract.contract_id, &aex_client::marketplace::ContractFailure { reason: "x".into(), message: None })
        .await
        .unwrap_err();
    not_found(refused);
}

async fn second_tenant_id(client: &aex_client::Client) -> aex_types::TenantId {
    client.balance().get(None).await.unwrap().tenant_id
}
