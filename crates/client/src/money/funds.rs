//! The caller's money: `GET /v1/balance`, `POST /v1/deposits`, `POST /v1/withdrawals`,
//! `GET /v1/usage` and `GET /v1/usage/transactions`.

use super::Transfer;
use crate::client::{Client, resource};
use crate::decimal;
use crate::error::Result;
use crate::page::{Page, PageParams, walk};
use aex_types::{Currency, Money, TenantId};
use futures::stream::BoxStream;
use reqwest::Method;
use serde::{Deserialize, Serialize, Serializer};

/// `GET /v1/balance`: posted, available (posted minus held) and held funds in one currency.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Balance {
    pub tenant_id: TenantId,
    pub balance: String,
    pub balance_minor: i64,
    pub available: String,
    pub available_minor: i64,
    pub held: String,
    pub held_minor: i64,
    pub currency: Currency,
}

impl Balance {
    /// Posted funds.
    pub fn balance(&self) -> Money {
        Money::from_minor(self.balance_minor, self.currency)
    }

    /// Funds not held in escrow: what can be spent or withdrawn now.
    pub fn available(&self) -> Money {
        Money::from_minor(self.available_minor, self.currency)
    }

    /// Funds held in escrow for awarded contracts.
    pub fn held(&self) -> Money {
        Money::from_minor(self.held_minor, self.currency)
    }
}

/// `POST /v1/deposits` and `POST /v1/withdrawals` [billing:write]: a positive amount, sent as
/// a decimal string with its currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funds {
    pub amount: Money,
    /// The reference of the external payment, at most 256 characters.
    pub payment_reference: Option<String>,
}

impl Funds {
    /// `amount`, without a payment reference.
    pub fn new(amount: Money) -> Self {
        Self { amount, payment_reference: None }
    }
}

impl Serialize for Funds {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(serialize_with = "decimal::amount")]
            amount: Money,
            currency: Currency,
            #[serde(skip_serializing_if = "Option::is_none")]
            payment_reference: Option<&'a str>,
        }
        Wire {
            amount: self.amount,
            currency: self.amount.currency(),
            payment_reference: self.payment_reference.as_deref(),
        }
        .serialize(serializer)
    }
}

/// `GET /v1/usage`: the caller's contracts as consumer and as provider.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Usage {
    pub tenant_id: TenantId,
    pub contracts_in_escrow: i64,
    pub contracts_paid: i64,
    pub spent_minor: i64,
    pub contracts_delivered: i64,
    pub earned_minor: i64,
}

resource!(
    /// The caller's balance: `client.balance()`.
    Balances
);

resource!(
    /// Deposits from the tenant's external account: `client.deposits()`.
    Deposits
);

resource!(
    /// Withdrawals to the tenant's external account: `client.withdrawals()`.
    Withdrawals
);

resource!(
    /// Usage and the caller's ledger history: `client.usage()`.
    UsageReports
);

impl Client {
    /// The caller's balance (settlement).
    pub fn balance(&self) -> Balances<'_> {
        Balances::new(self)
    }

    /// Deposits (settlement).
    pub fn deposits(&self) -> Deposits<'_> {
        Deposits::new(self)
    }

    /// Withdrawals (settlement).
    pub fn withdrawals(&self) -> Withdrawals<'_> {
        Withdrawals::new(self)
    }

    /// Usage and transactions (settlement).
    pub fn usage(&self) -> UsageReports<'_> {
        UsageReports::new(self)
    }
}

impl Balances<'_> {
    /// `GET /v1/balance` in `currency` (USD when `None`).
    pub async fn get(&self, currency: Option<Currency>) -> Result<Balance> {
        self.call(Method::GET, &["v1", "balance"]).query(&[("currency", currency)]).send().await
    }
}

impl Deposits<'_> {
    /// `POST /v1/deposits` [billing:write]: money in. With the same `Idempotency-Key` a repeat
    /// returns the original transaction and moves nothing.
    pub async fn create(&self, funds: &Funds) -> Result<Transfer> {
        self.call(Method::POST, &["v1", "deposits"]).json(funds)?.send().await
    }
}

impl Withdrawals<'_> {
    /// `POST /v1/withdrawals` [billing:write]: money out; never below zero (402 `INSUFFICIENT_FUNDS`).
    pub async fn create(&self, funds: &Funds) -> Result<Transfer> {
        self.call(Method::POST, &["v1", "withdrawals"]).json(funds)?.send().await
    }
}

impl UsageReports<'_> {
    /// `GET /v1/usage`.
    pub async fn summary(&self) -> Result<Usage> {
        self.call(Method::GET, &["v1", "usage"]).send().await
    }

    /// `GET /v1/usage/transactions`: one page (limit 1–200) of the entries of all the
    /// caller's accounts, newest first.
    pub async fn transactions(&self, page: PageParams) -> Result<Page<Transfer>> {
        Page::decode(
            self.call(Method::GET, &["v1", "usage", "transactions"]).query(&page.pairs()).send().await?,
            "transactions",
        )
    }

    /// Every transaction, page after page.
    pub fn transactions_all(&self, page: PageParams) -> BoxStream<'static, Result<Transfer>> {
        let client = self.client.clone();
        walk(page, move |params| {
            let client = client.clone();
            async move { client.usage().transactions(params).await }
        })
    }
}
