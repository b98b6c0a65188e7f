//! Audits of the ledger: a deal's replay, a provider's revenue deal by deal, and (operator)
//! the hash-chained journal's export and full verification.

use super::Transfer;
use crate::client::{Client, resource};
use crate::error::Result;
use crate::page::PageParams;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use reqwest::Method;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Where and why the chain or a record does not check out.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// `GET /v1/audit/deals/{contract_id}/replay`: the deal's transfers checked against the
/// journal, and its effect per account.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DealReplay {
    pub contract_id: String,
    pub status: String,
    pub chain_valid: bool,
    pub chain_errors: Vec<ChainBreak>,
    pub entries: Vec<Transfer>,
    /// Net effect per account id, in minor units (credit positive).
    pub balances: BTreeMap<String, i64>,
    pub consistent: bool,
    pub inconsistencies: Vec<String>,
}

/// One settled deal of a provider.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RevenueItem {
    pub contract_id: String,
    pub currency: String,
    pub credit_minor: i64,
    pub debit_minor: i64,
    pub platform_fee_minor: i64,
    pub protocol_fee_minor: i64,
    pub net_minor: i64,
    pub tier: Option<String>,
    pub settled_at: Option<aex_types::Timestamp>,
}

/// `GET /v1/audit/agents/{provider_id}/revenue`: totals over every deal, and one page of deals.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Revenue {
    pub provider_id: String,
    /// Settled deals in all (the length of the whole item list).
    pub deals: i64,
    pub gross_minor: i64,
    pub platform_fees_minor: i64,
    pub protocol_fees_minor: i64,
    pub net_minor: i64,
    pub items: Vec<RevenueItem>,
    pub limit: i64,
    pub offset: i64,
}

impl Revenue {
    /// The parameters of the next page of deals, or `None` on the last one.
    pub fn next(&self) -> Option<PageParams> {
        let next = self.offset.saturating_add(i64::try_from(self.items.len()).unwrap_or(i64::MAX));
        let page = PageParams { limit: u32::try_from(self.limit).ok(), offset: u64::try_from(next).ok() };
        (!self.items.is_empty() && next < self.deals).then_some(page)
    }
}

/// One journal link: the canonical entry exactly as hashed, and the chain hashes.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct JournalLink {
    pub seq: i64,
    /// RFC 8785 canonical JSON of the entry.
    pub entry: String,
    pub prev_hash: String,
    /// `SHA-256(prev_hash ‖ entry)`, hex.
    pub hash: String,
}

/// The latest signed chain head.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SignedHead {
    pub seq: i64,
    /// The canonical JSON the signature covers.
    pub body: String,
    pub signature: String,
    /// The receipt key version (see `GET /v1/receipts/keys`).
    pub key_version: i32,
}

/// `GET /v1/audit/journal`: one stretch of the chain after a sequence number.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct JournalExport {
    pub genesis_hash: String,
    pub head_seq: i64,
    pub head_hash: String,
    pub signed_head: Option<SignedHead>,
    pub links: Vec<JournalLink>,
    /// The cursor of the next stretch; `None` at the head.
    pub next_after: Option<i64>,
}

/// `GET /v1/audit/journal/verify`: the whole chain, each link against its transfer, the signed
/// head, and every account's totals.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct JournalVerification {
    pub valid: bool,
    pub entries_checked: i64,
    pub head_seq: i64,
    pub signed_head_seq: Option<i64>,
    pub first_break: Option<ChainBreak>,
    pub accounts_checked: i64,
    pub balance_mismatches: Vec<String>,
}

resource!(
    /// Ledger audits: `client.audit()`.
    Audit
);

impl Client {
    /// Audits (settlement).
    pub fn audit(&self) -> Audit<'_> {
        Audit::new(self)
    }
}

impl Audit<'_> {
    /// `GET /v1/audit/deals/{contract_id}/replay`: the deal's parties or the operator.
    pub async fn replay_deal(&self, contract_id: &str) -> Result<DealReplay> {
        self.call(Method::GET, &["v1", "audit", "deals", contract_id, "replay"]).send().await
    }

    /// `GET /v1/audit/agents/{provider_id}/revenue`: the provider's own tenant or the operator;
    /// one page (limit 1–200) of deals with the totals over all.
    pub async fn agent_revenue(&self, provider_id: &str, page: PageParams) -> Result<Revenue> {
        self.call(Method::GET, &["v1", "audit", "agents", provider_id, "revenue"]).query(&page.pairs()).send().await
    }

    /// `GET /v1/audit/journal` [admin]: up to `limit` (1–10 000, default 1 000) links after
    /// sequence number `after` (0: from the genesis).
    pub async fn journal(&self, after: Option<u64>, limit: Option<u32>) -> Result<JournalExport> {
        self.call(Method::GET, &["v1", "audit", "journal"])
            .query(&[("after", after), ("limit", limit.map(u64::from))])
            .send()
            .await
    }

    /// Every journal link from the genesis to the head, following `next_after`.
    pub fn journal_all(&self, limit: Option<u32>) -> BoxStream<'static, Result<JournalLink>> {
        let client = self.client.clone();
        stream::try_unfold(Some(0_u64), move |after| {
            let client = client.clone();
            async move {
                let Some(after) = after else { return Ok(None) };
                let export = client.audit().journal(Some(after), limit).await?;
                let next = export.next_after.and_then(|seq| u64::try_from(seq).ok());
                Ok(Some((export.links, next)))
            }
        })
        .map_ok(|links| stream::iter(links.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    /// `GET /v1/audit/journal/verify` [admin].
    pub async fn verify_journal(&self) -> Result<JournalVerification> {
        self.call(Method::GET, &["v1", "audit", "journal", "verify"]).send().await
    }
}
