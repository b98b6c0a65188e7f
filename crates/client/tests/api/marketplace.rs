//! Providers, subscriptions, work and sealed bids, through the gateway to the real work-publisher.

use crate::stack;
use aex_client::identity::TenantType;
use aex_client::marketplace::{
    AgentCard, AgentSkill, BidStrategy, Budget, Delivery, DeliveryMethod, ListWork, NewBid, NewProvider,
    NewSubscription, NewWork, ProviderSearch, Sla, SubscriptionFilters,
};
use aex_client::{Client, PageParams};
use aex_types::{Currency, Money, Timestamp};
use futures::TryStreamExt;

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD)
}

fn new_work(category: &str, max_price: Money) -> NewWork {
    let mut work = NewWork::new(category, "Translate the attached NDA", Budget::new(max_price));
    work.bid_window_ms = Some(300_000);
    work.payload = serde_json::json!({ "document": "nda.pdf" });
    work
}

async fn provider_of(client: &Client, capability: &str) -> aex_types::ProviderId {
    let suffix = aex_testkit::unique_suffix();
    let created = client
        .providers()
        .create(&NewProvider {
            name: format!("Translator {suffix}"),
            endpoint: "https://agent.example.com/a2a".into(),
            capabilities: vec![capability.to_string()],
            contact_email: "ops@agent.example.com".into(),
            ..NewProvider::default()
        })
        .await
        .unwrap();
    assert_eq!(created.status, "ACTIVE");
    created.provider_id
}

#[tokio::test]
async fn providers_register_subscribe_and_are_found() {
    let stack = stack();
    let (created, provider_client) = stack.tenant(TenantType::Provider).await;
    let capability = format!("legal-{}", aex_testkit::unique_suffix());
    let provider = provider_of(&provider_client, &capability).await;

    let own = provider_client.providers().get(&provider).await.unwrap();
    assert_eq!(own.tenant_id.as_ref(), Some(&created.tenant.id), "the owner sees owner fields");
    assert_eq!(own.capabilities, vec![capability.clone()]);
    let listed = provider_client.providers().list_own().await.unwrap();
    assert_eq!((listed.total, listed.providers[0].provider_id.clone()), (1, provider.clone()));

    let (_, consumer) = stack.tenant(TenantType::Requestor).await;
    let public = consumer.providers().get(&provider).await.unwrap();
    assert_eq!((public.tenant_id, public.contact_email), (None, None), "others see the directory entry");
    let found = consumer
        .providers()
        .search(&ProviderSearch { skill_tags: vec![capability], ..ProviderSearch::default() })
        .await
        .unwrap();
    assert_eq!(found.providers.iter().map(|p| &p.provider_id).collect::<Vec<_>>(), vec![&provider]);

    let subscription = provider_client
        .subscriptions()
        .create(&NewSubscription {
            provider_id: provider.clone(),
            categories: vec!["translation.*".into()],
            filters: SubscriptionFilters { min_budget: Some(usd(1_000)), ..SubscriptionFilters::default() },
            delivery: Delivery::polling(),
        })
        .await
        .unwrap();
    assert_eq!(subscription.filters.min_budget.as_deref(), Some("10.00"));
    assert_eq!(subscription.delivery.method, DeliveryMethod::Polling);
    let subscriptions = provider_client.subscriptions().list().await.unwrap();
    assert_eq!(subscriptions.subscriptions[0].subscription_id, subscription.subscription_id);

    let error = consumer.providers().get(&aex_types::ProviderId::new()).await.unwrap_err();
    assert_eq!((error.status(), error.code()), (Some(404), Some("NOT_FOUND")));

    // The A2A card: derived from the profile until one is published.
    let derived = consumer.providers().a2a(&provider).await.unwrap();
    assert_eq!(derived.aex.as_ref().map(|a| a.published), Some(false));
    let card = AgentCard {
        name: "Legal Translator".into(),
        url: "https://agent.example.com/a2a".into(),
        skills: vec![AgentSkill {
            id: "contract-translation".into(),
            name: "Contract translation".into(),
            tags: vec!["nda".into()],
            ..AgentSkill::default()
        }],
        ..AgentCard::default()
    };
    let published = provider_client.providers().publish_agent_card(&provider, &card).await.unwrap();
    assert_eq!((published.name.as_str(), published.version.as_deref()), ("Legal Translator", Some("1.0.0")));
    let served = consumer.providers().a2a(&provider).await.unwrap();
    assert_eq!(served.aex.map(|a| (a.provider_id, a.published)), Some((provider.clone(), true)));
    assert_eq!(served.skills[0].id, "contract-translation");
    let error = consumer.providers().publish_agent_card(&provider, &card).await.unwrap_err();
    assert!(error.is_not_found() || error.is_forbidden(), "only the owner publishes: {error}");
}

#[tokio::test]
async fn work_is_published_listed_bid_on_under_seal_and_cancelled() {
    let stack = stack();
    let (created, consumer) = stack.tenant(TenantType::Requestor).await;
    let consumer_key = created.api_key.secret().unwrap().clone();
    let (_, bidder) = stack.tenant(TenantType::Provider).await;
    let provider = provider_of(&bidder, "legal").await;
    // A unique category so only this test's work matches the subscription.
    let category = format!("translation.t{}", aex_testkit::unique_suffix());
    bidder
        .subscriptions()
        .create(&NewSubscription {
            provider_id: provider.clone(),
            categories: vec![category.clone()],
            filters: SubscriptionFilters::default(),
            delivery: Delivery::polling(),
        })
        .await
        .unwrap();

    let mut submitted = Vec::new();
    for n in 0..3 {
        let mut work = new_work(&category, usd(2_500 + n));
        work.budget.bid_strategy = BidStrategy::LowestPrice;
        let answer = consumer.work().submit(&work).await.unwrap();
        assert_eq!(answer.status, "OPEN");
        submitted.push(answer.work_id);
    }
    let work = consumer.work().get(&submitted[0]).await.unwrap();
    assert_eq!((work.budget.max_price.as_str(), work.budget.max_price()), ("25.00", usd(2_500)));
    assert_eq!(work.budget.bid_strategy, BidStrategy::LowestPrice);
    assert_eq!(work.category, category);

    let page = consumer.work().list(&ListWork { status: None, page: PageParams::limit(2) }).await.unwrap();
    assert_eq!((page.items.len(), page.total), (2, 3));
    let all: Vec<_> =
        consumer.work().list_all(ListWork { status: None, page: PageParams::limit(2) }).try_collect().await.unwrap();
    let mut listed: Vec<_> = all.iter().map(|w| w.work_id.clone()).collect();
    listed.sort();
    let mut expected = submitted.clone();
    expected.sort();
    assert_eq!(listed, expected);

    // The subscribed provider polls the open work and bids.
    let open =
        bidder.work().list(&ListWork { status: Some("OPEN".into()), page: PageParams::default() }).await.unwrap();
    assert_eq!(open.total, 3);
    let bid = bidder
        .bids()
        .submit(&NewBid {
            work_id: submitted[0].clone(),
            provider_id: None,
            price: usd(1_999),
            price_breakdown: None,
            confidence: 0.9,
            approach: "Certified legal translator".into(),
            estimated_latency_ms: 60_000,
            mvp_sample: None,
            sla: Sla { max_latency_ms: 120_000, availability: 0.99 },
            a2a_endpoint: "https://agent.example.com/a2a".into(),
            expires_at: Timestamp::from_unix_millis(Timestamp::now().unix_millis() + 3_600_000).unwrap(),
        })
        .await
        .unwrap();
    assert_eq!((bid.status.as_str(), &bid.provider_id), ("RECEIVED", &provider));

    let own = bidder.bids().for_work(&submitted[0]).await.unwrap();
    assert_eq!(own.bids.len(), 1);
    assert_eq!((own.bids[0].price.as_str(), own.bids[0].price()), ("19.99", usd(1_999)));

    let sealed = consumer.bids().for_work(&submitted[0]).await.unwrap_err();
    assert!(sealed.is_conflict());
    assert_eq!(sealed.code(), Some("BIDS_SEALED"));

    let cancelled = consumer.work().cancel(&submitted[1]).await.unwrap();
    assert_eq!(cancelled.status, "CANCELLED");
    assert!(cancelled.cancelled_at.is_some());
    let again = consumer.work().cancel(&submitted[1]).await.unwrap_err();
    assert_eq!((again.status(), again.code()), (Some(409), Some("INVALID_WORK_STATE")));

    // The window is still open: there is no evaluation yet, and the SDK says so with the code.
    let once = Client::builder(&stack.gateway.base_url).api_key(consumer_key.expose()).max_retries(0).build().unwrap();
    let missing = once.evaluations().get(&submitted[0]).await.unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
}

#[tokio::test]
async fn a_contract_is_awarded_into_escrow_completed_and_settled_with_a_receipt() {
    use aex_client::marketplace::{Award, ContractResult, ProgressReport};
    use aex_client::money::Funds;
    use std::time::Duration;

    let stack = stack();
    let (_, consumer) = stack.tenant(TenantType::Requestor).await;
    let (_, bidder) = stack.tenant(TenantType::Provider).await;
    consumer.deposits().create(&Funds::new(usd(10_000))).await.unwrap();
    let provider = provider_of(&bidder, "legal").await;
    let category = format!("translation.c{}", aex_testkit::unique_suffix());
    bidder
        .subscriptions()
        .create(&NewSubscription {
            provider_id: provider.clone(),
            categories: vec![category.clone()],
            filters: SubscriptionFilters::default(),
            delivery: Delivery::polling(),
        })
        .await
        .unwrap();
    let mut work = new_work(&category, usd(5_000));
    work.bid_window_ms = Some(5_000);
    let work = consumer.work().submit(&work).await.unwrap().work_id;
    let bid = bidder
        .bids()
        .submit(&NewBid {
            work_id: work.clone(),
            provider_id: Some(provider.clone()),
            price: usd(4_000),
            price_breakdown: None,
            confidence: 0.8,
            approach: "Sworn translator".into(),
            estimated_latency_ms: 1_000,
            mvp_sample: None,
            sla: Sla { max_latency_ms: 5_000, availability: 0.999 },
            a2a_endpoint: "https://agent.example.com/a2a".into(),
            expires_at: Timestamp::from_unix_millis(Timestamp::now().unix_millis() + 3_600_000).unwrap(),
        })
        .await
        .unwrap();

    // The bid window closes by itself; then the owner awards.
    aex_testkit::eventually(Duration::from_secs(30), "the bid window to close", || async {
        let status = consumer.work().get(&work).await.ok()?.status;
        (status != "OPEN").then_some(())
    })
    .await;
    let contract = consumer.contracts().award(&work, &Award::Bid(bid.bid_id.clone())).await.unwrap();
    assert_eq!((&contract.work_id, &contract.bid_id, &contract.provider_id), (&work, &bid.bid_id, &provider));
    assert_eq!((contract.agreed_price.as_str(), contract.agreed_price()), ("40.00", usd(4_000)));
    let again = consumer.contracts().award(&work, &Award::Bid(bid.bid_id.clone())).await.unwrap_err();
    assert_eq!((again.status(), again.code()), (Some(409), Some("WORK_ALREADY_AWARDED")));

    let balance = consumer.balance().get(None).await.unwrap();
    assert_eq!((balance.held_minor, balance.available_minor), (4_000, 6_000), "the price is held in escrow");
    let escrow = consumer.settlements().get(contract.contract_id.as_str()).await.unwrap();
    assert_eq!((escrow.status.as_str(), escrow.price()), ("HELD", usd(4_000)));
    assert_eq!(bidder.contracts().get(&contract.contract_id).await.unwrap().contract_id, contract.contract_id);
    let (_, stranger) = stack.tenant(TenantType::Both).await;
    assert!(stranger.contracts().get(&contract.contract_id).await.unwrap_err().is_not_found());

    let progressed = bidder
        .contracts()
        .report_progress(&contract.contract_id, &ProgressReport { percent: Some(50), ..ProgressReport::default() })
        .await
        .unwrap();
    assert_eq!(progressed.progress.percent, Some(50));
    let completion = bidder
        .contracts()
        .complete(
            &contract.contract_id,
            &ContractResult { success: true, result_summary: Some("done".into()), ..ContractResult::default() },
        )
        .await
        .unwrap();
    assert_eq!(completion.status, "COMPLETED");
    assert!(completion.settlement_initiated);

    // Settlement pays out on the completion event; the receipt then verifies.
    let settled = aex_testkit::eventually(Duration::from_secs(30), "the settlement", || async {
        let settlement = consumer.settlements().get(contract.contract_id.as_str()).await.ok()?;
        (settlement.status == "SETTLED").then_some(settlement)
    })
    .await;
    let split = [settled.payout_minor, settled.platform_fee_minor, settled.protocol_fee_minor];
    assert_eq!(split.iter().map(|m| m.unwrap()).sum::<i64>(), 4_000, "payout and fees sum to the price");
    let receipt = bidder.settlements().receipt(contract.contract_id.as_str()).await.unwrap();
    assert_eq!(receipt.receipt.get("contract_id"), Some(&contract.contract_id.to_string()));
    assert!(consumer.settlements().verify_receipt(&receipt).await.unwrap().valid);
    let mut forged = receipt.clone();
    forged.receipt.insert("price_minor".into(), "1".into());
    assert!(!consumer.settlements().verify_receipt(&forged).await.unwrap().valid);
    let replay = consumer.audit().replay_deal(contract.contract_id.as_str()).await.unwrap();
    assert!(replay.chain_valid && replay.consistent, "{replay:?}");
}
