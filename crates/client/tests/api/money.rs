//! Deposits, balances, transfers and the ledger's pages, through the gateway to the real
//! settlement service.

use crate::stack;
use aex_client::identity::TenantType;
use aex_client::money::{Funds, NewTransfer};
use aex_client::{Client, PageParams};
use aex_types::{AccountId, Currency, Money};
use futures::TryStreamExt;

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD)
}

/// The caller's USD account (created by its first deposit).
async fn usd_account(client: &Client) -> AccountId {
    let accounts = client.accounts().list().await.unwrap();
    accounts.accounts.into_iter().find(|a| a.currency == Currency::USD).expect("a USD account").id
}

#[tokio::test]
async fn a_deposit_repeated_with_its_idempotency_key_moves_money_once() {
    let stack = stack();
    let (created, client) = stack.tenant(TenantType::Requestor).await;
    let funds = Funds { amount: usd(10_000), payment_reference: Some("wire 4711".into()) };

    let deposits = client.deposits().idempotency_key("topup-1");
    let first = deposits.create(&funds).await.unwrap();
    let again = deposits.create(&funds).await.unwrap();
    assert_eq!(first, again, "the repeat answers the original transaction");
    assert_eq!(
        (first.transfer_type.as_str(), first.amount.as_str(), first.amount_minor),
        ("deposit", "100.00", 10_000)
    );
    assert_eq!(first.amount(), usd(10_000));
    assert_eq!(first.reference.as_deref(), Some("wire 4711"));

    let balance = client.balance().get(Some(Currency::USD)).await.unwrap();
    assert_eq!(balance.tenant_id, created.tenant.id);
    assert_eq!((balance.balance.as_str(), balance.balance_minor, balance.held_minor), ("100.00", 10_000, 0));
    assert_eq!(balance.available(), usd(10_000));

    // The same key for a different body is refused; a fresh (generated) key is a new deposit.
    let error = deposits.create(&Funds::new(usd(1))).await.unwrap_err();
    assert_eq!((error.status(), error.code()), (Some(422), Some("IDEMPOTENCY_KEY_REUSED")));
    let second = client.deposits().create(&Funds::new(usd(5_050))).await.unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(client.balance().get(None).await.unwrap().balance, "150.50");

    let error = client.withdrawals().create(&Funds::new(usd(1_000_000))).await.unwrap_err();
    assert!(error.is_payment_required(), "{error}");
    assert_eq!(error.code(), Some("INSUFFICIENT_FUNDS"));
    let withdrawn = client.withdrawals().create(&Funds::new(usd(50))).await.unwrap();
    assert_eq!(withdrawn.transfer_type, "withdrawal");
    assert_eq!(client.balance().get(None).await.unwrap().available_minor, 15_000);
}

#[tokio::test]
async fn a_transfer_batch_answers_item_by_item_in_request_order() {
    let stack = stack();
    let (_, payer) = stack.tenant(TenantType::Requestor).await;
    let (_, payee) = stack.tenant(TenantType::Provider).await;
    payer.deposits().create(&Funds::new(usd(10_000))).await.unwrap();
    payee.deposits().create(&Funds::new(usd(100))).await.unwrap();
    let (from, to) = (usd_account(&payer).await, usd_account(&payee).await);
    let suffix = aex_testkit::unique_suffix();
    let id = |n: u32| format!("batch-{suffix}-{n}");

    let batch = payer
        .transfers()
        .create_batch(&[
            NewTransfer::posted(id(1), from.clone(), to.clone(), usd(2_500)).reference("invoice 1"),
            NewTransfer::posted(id(2), from.clone(), to.clone(), usd(1_000_000)),
            NewTransfer::posted(id(3), from.clone(), AccountId::new(), usd(100)),
            NewTransfer::posted(id(4), from.clone(), to.clone(), usd(500)).code("fee"),
        ])
        .await
        .unwrap();
    let results: Vec<(usize, &str, &str, bool)> =
        batch.results.iter().map(|r| (r.index, r.id.as_str(), r.result.as_str(), r.is_committed())).collect();
    assert_eq!(
        results,
        vec![
            (0, id(1).as_str(), "OK", true),
            (1, id(2).as_str(), "INSUFFICIENT_FUNDS", false),
            (2, id(3).as_str(), "CREDIT_ACCOUNT_NOT_FOUND", false),
            (3, id(4).as_str(), "OK", true),
        ]
    );
    assert_eq!((batch.committed, batch.failed), (2, 2));
    assert_eq!(payer.balance().get(None).await.unwrap().balance_minor, 7_000);
    assert_eq!(payee.balance().get(None).await.unwrap().balance_minor, 3_100);

    // Ids are unique forever: resubmitting one is recognised, not repeated.
    let repeat = payer
        .transfers()
        .create_batch(&[NewTransfer::posted(id(1), from.clone(), to.clone(), usd(2_500)).reference("invoice 1")])
        .await
        .unwrap();
    assert_eq!(repeat.results[0].result, "EXISTS");
    assert_eq!(payer.balance().get(None).await.unwrap().balance_minor, 7_000);

    // A single transfer answers the committed transfer, or its refusal as an error.
    let single = payer.transfers().create(&NewTransfer::posted(id(5), from.clone(), to.clone(), usd(1))).await.unwrap();
    assert_eq!(
        (single.id.as_str(), single.amount.as_str(), single.status.as_str()),
        (id(5).as_str(), "0.01", "completed")
    );
    assert_eq!((single.debit_account_id.clone(), single.credit_account_id.clone()), (from.clone(), to.clone()));
    let error = payer
        .transfers()
        .create(&NewTransfer::posted(id(6), from.clone(), to.clone(), usd(1_000_000)))
        .await
        .unwrap_err();
    assert_eq!((error.status(), error.code()), (Some(402), Some("INSUFFICIENT_FUNDS")));

    // Without an Idempotency-Key, the transfer's own id still makes a repeat harmless.
    let unkeyed = aex_client::RequestOptions { without_idempotency_key: true, ..Default::default() };
    let transfer = NewTransfer::posted(id(7), from, to, usd(3));
    let first = payer.transfers().options(unkeyed.clone()).create(&transfer).await.unwrap();
    let again = payer.transfers().options(unkeyed).create(&transfer).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(payer.balance().get(None).await.unwrap().balance_minor, 7_000 - 1 - 3);
}

#[tokio::test]
async fn ledger_lists_walk_every_page() {
    let stack = stack();
    let (_, client) = stack.tenant(TenantType::Requestor).await;
    for cents in 1..=7 {
        client.deposits().create(&Funds::new(usd(cents))).await.unwrap();
    }
    let account = usd_account(&client).await;
    assert_eq!(client.accounts().get(&account).await.unwrap().balance_minor, 28);

    let page = client.accounts().entries(&account, PageParams::limit(3)).await.unwrap();
    assert_eq!((page.items.len(), page.total), (3, 7));
    assert_eq!(page.items[0].amount_minor, 7, "newest first");

    let entries: Vec<_> = client.accounts().entries_all(&account, PageParams::limit(3)).try_collect().await.unwrap();
    let amounts: Vec<i64> = entries.iter().map(|e| e.amount_minor).collect();
    assert_eq!(amounts, vec![7, 6, 5, 4, 3, 2, 1]);

    let transactions: Vec<_> = client.usage().transactions_all(PageParams::limit(2)).try_collect().await.unwrap();
    assert_eq!(transactions.len(), 7);
    assert_eq!(transactions.iter().map(|t| t.journal_seq).collect::<Vec<_>>(), {
        let mut seqs: Vec<i64> = entries.iter().map(|e| e.journal_seq).collect();
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        seqs
    });

    let usage = client.usage().summary().await.unwrap();
    assert_eq!((usage.contracts_in_escrow, usage.spent_minor), (0, 0));

    // Another tenant's account does not exist for this one.
    let (_, other) = stack.tenant(TenantType::Requestor).await;
    let error = other.accounts().get(&account).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
}

#[tokio::test]
async fn fees_receipt_keys_market_feed_and_missing_settlements() {
    let stack = stack();
    let (_, client) = stack.tenant(TenantType::Both).await;

    let policy = client.fees().policy().await.unwrap();
    assert_eq!(policy.platform_fee_bps, 1500);
    assert_eq!(policy.protocol_fee_tiers.len(), 4);
    let tier = client.fees().tier(aex_types::ProviderId::new().as_str(), None).await.unwrap();
    assert_eq!((tier.volume_30d_minor, tier.currency), (0, Currency::USD));

    let keys = client.settlements().receipt_keys().await.unwrap();
    assert!(keys.keys.iter().any(|k| k.version == keys.active_version));

    let public = stack.anonymous().market().feed().await.unwrap();
    assert!(public.delayed_hours >= 1);
    assert_eq!(client.market().premium_feed().await.unwrap().delayed_hours, 0);

    let error = client.settlements().get(aex_types::ContractId::new().as_str()).await.unwrap_err();
    assert_eq!((error.status(), error.code()), (Some(404), Some("NOT_FOUND")));

    // The operator's journal verifies, and its export pages by cursor from the genesis on.
    client.deposits().create(&Funds::new(usd(300))).await.unwrap();
    let operator = stack.operator();
    let verification = operator.audit().verify_journal().await.unwrap();
    assert!(verification.valid, "{verification:?}");
    let links: Vec<_> = operator.audit().journal_all(Some(2)).try_collect().await.unwrap();
    assert!(links.len() as i64 >= verification.head_seq, "the export walks to the head");
    assert_eq!(links[0].seq, 1);
    assert_eq!(links[0].prev_hash, operator.audit().journal(None, Some(1)).await.unwrap().genesis_hash);
    assert!(links.windows(2).all(|pair| pair[0].seq + 1 == pair[1].seq && pair[0].hash == pair[1].prev_hash));

    let error = client.audit().verify_journal().await.unwrap_err();
    assert_eq!(error.code(), Some("INSUFFICIENT_SCOPE"));
}
