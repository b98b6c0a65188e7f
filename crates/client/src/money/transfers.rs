//! Transfers: `POST /v1/transfers`, one or a batch (up to 8189) answered item by item, and the
//! caller's accounts and their entries (`GET /v1/accounts`, `/v1/accounts/{id}`, `…/entries`).

use crate::client::{Client, resource};
use crate::decimal;
use crate::error::{Error, Result};
use crate::page::{Page, PageParams, walk};
use aex_types::{AccountId, Currency, Money, TenantId, Timestamp};
use futures::stream::BoxStream;
use reqwest::Method;
use serde::{Deserialize, Serialize, Serializer};

/// Most transfers in one batch.
pub const MAX_BATCH: usize = aex_api::limits::MAX_TRANSFER_BATCH;

/// A committed ledger transfer. Deposits and withdrawals answer with one (AEX calls it a
/// transaction, hence `transaction_id`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Transfer {
    /// Client-chosen for transfers; derived from the `Idempotency-Key` for deposits and withdrawals.
    pub id: String,
    pub transaction_id: String,
    /// `deposit`, `withdrawal`, `transfer`, or the transfer code in listings.
    #[serde(rename = "type")]
    pub transfer_type: String,
    /// `completed`, or the pending state of a two-phase transfer (`pending`, `posted`, `voided`, `expired`).
    pub status: String,
    pub debit_account_id: AccountId,
    pub credit_account_id: AccountId,
    pub amount: String,
    pub amount_minor: i64,
    pub currency: Currency,
    pub code: String,
    pub reference: Option<String>,
    /// `posted`, `pending`, `post_pending` or `void_pending`.
    pub kind: String,
    pub pending_id: Option<String>,
    pub pending_status: Option<String>,
    pub timeout_at: Option<Timestamp>,
    /// Position in the hash-chained journal.
    pub journal_seq: i64,
    pub created_at: Timestamp,
}

impl Transfer {
    /// The amount as exact money.
    pub fn amount(&self) -> Money {
        Money::from_minor(self.amount_minor, self.currency)
    }
}

/// One transfer to make. Its `id` is unique forever: repeating it returns the original result
/// (`EXISTS`), so a retried batch never moves money twice.
///
/// ```
/// use aex_client::money::NewTransfer;
/// use aex_types::{AccountId, Currency, Money};
///
/// let (from, to) = (AccountId::new(), AccountId::new());
/// let pay = NewTransfer::posted("invoice-2041", from.clone(), to.clone(), Money::from_minor(1250, Currency::USD));
/// let hold = NewTransfer::posted("hold-7", from, to, Money::from_minor(500, Currency::USD)).pending(Some(3600));
/// let release = NewTransfer::void_pending("release-7", "hold-7");
/// # let _ = (pay, hold, release);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransfer {
    /// 1–128 visible ASCII characters, unique forever.
    pub id: String,
    /// One of the caller's accounts.
    pub debit_account_id: Option<AccountId>,
    /// A tenant account.
    pub credit_account_id: Option<AccountId>,
    /// Positive; `None` only to void a pending transfer.
    pub amount: Option<Money>,
    /// Default `transfer`; 1–64 characters.
    pub code: Option<String>,
    pub reference: Option<String>,
    /// Reserve instead of moving (two-phase).
    pub pending: bool,
    /// For a pending transfer: seconds until it lapses back.
    pub timeout_seconds: Option<u32>,
    /// Posts (part of) this pending transfer.
    pub post_pending_id: Option<String>,
    /// Voids this pending transfer.
    pub void_pending_id: Option<String>,
    /// This transfer and the next take effect together or not at all.
    pub linked: bool,
}

impl NewTransfer {
    fn empty(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            debit_account_id: None,
            credit_account_id: None,
            amount: None,
            code: None,
            reference: None,
            pending: false,
            timeout_seconds: None,
            post_pending_id: None,
            void_pending_id: None,
            linked: false,
        }
    }

    /// Moves `amount` from `debit` to `credit` at once.
    pub fn posted(id: impl Into<String>, debit: AccountId, credit: AccountId, amount: Money) -> Self {
        Self { debit_account_id: Some(debit), credit_account_id: Some(credit), amount: Some(amount), ..Self::empty(id) }
    }

    /// Posts `amount` (all or part) of the pending transfer `pending_id`.
    pub fn post_pending(id: impl Into<String>, pending_id: impl Into<String>, amount: Money) -> Self {
        Self { post_pending_id: Some(pending_id.into()), amount: Some(amount), ..Self::empty(id) }
    }

    /// Voids the pending transfer `pending_id`: its funds return to the debit account.
    pub fn void_pending(id: impl Into<String>, pending_id: impl Into<String>) -> Self {
        Self { void_pending_id: Some(pending_id.into()), ..Self::empty(id) }
    }

    /// This transfer as a reservation that lapses after `timeout_seconds` (never when `None`).
    pub fn pending(mut self, timeout_seconds: Option<u32>) -> Self {
        self.pending = true;
        self.timeout_seconds = timeout_seconds;
        self
    }

    /// This transfer with a code (default `transfer`).
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// This transfer with a reference (at most 256 characters).
    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = Some(reference.into());
        self
    }

    /// Links this transfer to the next in the batch: both or neither.
    pub fn linked(mut self) -> Self {
        self.linked = true;
        self
    }
}

impl Serialize for NewTransfer {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        // The service refuses unknown fields, so only what is set goes out.
        #[derive(Serialize)]
        struct Wire<'a> {
            id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            debit_account_id: Option<&'a AccountId>,
            #[serde(skip_serializing_if = "Option::is_none")]
            credit_account_id: Option<&'a AccountId>,
            #[serde(serialize_with = "decimal::optional_amount", skip_serializing_if = "Option::is_none")]
            amount: Option<Money>,
            #[serde(skip_serializing_if = "Option::is_none")]
            currency: Option<Currency>,
            #[serde(skip_serializing_if = "Option::is_none")]
            code: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            reference: Option<&'a str>,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            pending: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            timeout_seconds: Option<u32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            post_pending_id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            void_pending_id: Option<&'a str>,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            linked: bool,
        }
        Wire {
            id: &self.id,
            debit_account_id: self.debit_account_id.as_ref(),
            credit_account_id: self.credit_account_id.as_ref(),
            amount: self.amount,
            currency: self.amount.map(|a| a.currency()),
            code: self.code.as_deref(),
            reference: self.reference.as_deref(),
            pending: self.pending,
            timeout_seconds: self.timeout_seconds,
            post_pending_id: self.post_pending_id.as_deref(),
            void_pending_id: self.void_pending_id.as_deref(),
            linked: self.linked,
        }
        .serialize(serializer)
    }
}

/// The result of one item of a batch, in request order.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TransferResult {
    pub index: usize,
    pub id: String,
    /// `OK`, `EXISTS` (committed earlier with this id), or why it was refused:
    /// `INSUFFICIENT_FUNDS`, `DEBIT_ACCOUNT_NOT_FOUND`, `EXISTS_WITH_DIFFERENT_FIELDS`,
    /// `LINKED_TRANSFER_FAILED`, ...
    pub result: String,
    /// The journal position of the committed transfer; `None` when it was refused.
    #[serde(default)]
    pub journal_seq: Option<i64>,
}

impl TransferResult {
    /// Whether the transfer is in the ledger (now, or from an earlier request with the same id).
    pub fn is_committed(&self) -> bool {
        self.journal_seq.is_some()
    }
}

/// The answer to a batch: every item's result, and the counts.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct BatchResult {
    pub results: Vec<TransferResult>,
    pub committed: usize,
    pub failed: usize,
}

#[derive(Serialize)]
struct Batch<'a> {
    transfers: &'a [NewTransfer],
}

/// A ledger account of the caller.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub tenant_id: Option<TenantId>,
    pub currency: Currency,
    pub balance: String,
    pub balance_minor: i64,
    pub available_minor: i64,
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
    pub created_at: Timestamp,
}

/// `GET /v1/accounts` (not paginated).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AccountList {
    pub accounts: Vec<Account>,
    pub total: u64,
}

resource!(
    /// Transfers between accounts: `client.transfers()`.
    Transfers
);

resource!(
    /// The caller's ledger accounts: `client.accounts()`.
    Accounts
);

impl Client {
    /// Transfers (settlement).
    pub fn transfers(&self) -> Transfers<'_> {
        Transfers::new(self)
    }

    /// Ledger accounts and entries (settlement).
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts::new(self)
    }
}

impl Transfers<'_> {
    /// `POST /v1/transfers` [billing:write] with one transfer: the committed transfer, or the
    /// refusal as an error (`INSUFFICIENT_FUNDS` 402, `DEBIT_ACCOUNT_NOT_FOUND` 404,
    /// `EXISTS_WITH_DIFFERENT_FIELDS` 409, ...).
    pub async fn create(&self, transfer: &NewTransfer) -> Result<Transfer> {
        self.call(Method::POST, &["v1", "transfers"]).json(transfer)?.send().await
    }

    /// `POST /v1/transfers` [billing:write] with a batch of 1 to 8189: one result per item in
    /// request order. Refused items do not fail the call; see [`TransferResult::result`].
    pub async fn create_batch(&self, transfers: &[NewTransfer]) -> Result<BatchResult> {
        if transfers.is_empty() || transfers.len() > MAX_BATCH {
            return Err(Error::InvalidInput(format!("a batch holds 1 to {MAX_BATCH} transfers")));
        }
        self.call(Method::POST, &["v1", "transfers"]).json(&Batch { transfers })?.send().await
    }
}

impl Accounts<'_> {
    /// `GET /v1/accounts`: the caller's accounts (one per currency used).
    pub async fn list(&self) -> Result<AccountList> {
        self.call(Method::GET, &["v1", "accounts"]).send().await
    }

    /// `GET /v1/accounts/{id}`: 404 for another tenant's.
    pub async fn get(&self, id: &AccountId) -> Result<Account> {
        self.call(Method::GET, &["v1", "accounts", id.as_str()]).send().await
    }

    /// `GET /v1/accounts/{id}/entries`: one page (limit 1–200) of the account's transfers, newest first.
    pub async fn entries(&self, id: &AccountId, page: PageParams) -> Result<Page<Transfer>> {
        let value =
            self.call(Method::GET, &["v1", "accounts", id.as_str(), "entries"]).query(&page.pairs()).send().await?;
        Page::decode(value, "entries")
    }

    /// Every entry of the account, page after page.
    pub fn entries_all(&self, id: &AccountId, page: PageParams) -> BoxStream<'static, Result<Transfer>> {
        let (client, id) = (self.client.clone(), id.clone());
        walk(page, move |params| {
            let (client, id) = (client.clone(), id.clone());
            async move { client.accounts().entries(&id, params).await }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn transfers_send_only_what_is_set_with_exact_amounts() {
        let (from, to) = (AccountId::new(), AccountId::new());
        let posted = NewTransfer::posted("t-1", from.clone(), to.clone(), Money::from_minor(1250, Currency::EUR));
        assert_eq!(
            serde_json::to_value(&posted).unwrap(),
            json!({"id": "t-1", "debit_account_id": from, "credit_account_id": to, "amount": "12.50", "currency": "EUR"})
        );
        let void = NewTransfer::void_pending("t-2", "t-1");
        assert_eq!(serde_json::to_value(&void).unwrap(), json!({"id": "t-2", "void_pending_id": "t-1"}));
        let hold = posted.pending(Some(60)).linked();
        let wire = serde_json::to_value(&hold).unwrap();
        assert_eq!(
            (wire["pending"].clone(), wire["timeout_seconds"].clone(), wire["linked"].clone()),
            (json!(true), json!(60), json!(true))
        );
    }
}
