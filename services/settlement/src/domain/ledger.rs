//! The double-entry rules: how a batch of transfer requests changes account balances.
//!
//! Pure and deterministic: the store loads the accounts, pending transfers and already-used
//! ids a batch touches, [`apply_batch`] decides every request in arrival order against those
//! in-memory balances, and the store writes the outcome in one transaction. A failed request
//! never changes a balance; a linked chain (`linked = true` on every request but the last)
//! takes effect entirely or not at all.
//!
//! Balances follow the usual ledger convention: an account's balance is
//! `credits_posted - debits_posted`; a pending debit reserves funds
//! (`available = credits_posted - debits_posted - debits_pending`). Accounts with
//! `no_overdraft` (every tenant account) can never have debits exceed credits.

use aex_types::Currency;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The four running totals of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    pub id: String,
    /// The owning tenant; `None` for platform accounts.
    pub tenant_id: Option<String>,
    pub currency: Currency,
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
    pub no_overdraft: bool,
}

impl AccountState {
    pub fn new(id: &str, tenant_id: Option<&str>, currency: Currency, no_overdraft: bool) -> Self {
        Self {
            id: id.to_string(),
            tenant_id: tenant_id.map(str::to_string),
            currency,
            debits_pending: 0,
            debits_posted: 0,
            credits_pending: 0,
            credits_posted: 0,
            no_overdraft,
        }
    }

    /// Posted balance: credits minus debits.
    pub fn balance(&self) -> i128 {
        i128::from(self.credits_posted) - i128::from(self.debits_posted)
    }

    /// What can still be debited: posted balance minus pending debits.
    pub fn available(&self) -> i128 {
        self.balance() - i128::from(self.debits_pending)
    }
}

/// Where a pending transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingStatus {
    Pending,
    Posted,
    Voided,
    Expired,
}

impl PendingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PendingStatus::Pending => "pending",
            PendingStatus::Posted => "posted",
            PendingStatus::Voided => "voided",
            PendingStatus::Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "pending" => PendingStatus::Pending,
            "posted" => PendingStatus::Posted,
            "voided" => PendingStatus::Voided,
            "expired" => PendingStatus::Expired,
            _ => return None,
        })
    }
}

/// A pending transfer that a request may post or void.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTransfer {
    pub id: String,
    pub debit_account_id: String,
    pub credit_account_id: String,
    pub amount: i64,
    pub currency: Currency,
    pub status: PendingStatus,
    /// Unix milliseconds after which the reservation lapses.
    pub timeout_at_ms: Option<i64>,
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TransferKind {
    /// Moves money now.
    Posted,
    /// Reserves money until posted, voided or timed out.
    Pending { timeout_at_ms: Option<i64> },
    /// Posts a pending transfer, in full (`amount` = its amount) or in part.
    PostPending { pending_id: String },
    /// Releases a pending transfer.
    VoidPending { pending_id: String },
}

impl TransferKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            TransferKind::Posted => "posted",
            TransferKind::Pending { .. } => "pending",
            TransferKind::PostPending { .. } => "post_pending",
            TransferKind::VoidPending { .. } => "void_pending",
        }
    }

    pub fn pending_id(&self) -> Option<&str> {
        match self {
            TransferKind::PostPending { pending_id } | TransferKind::VoidPending { pending_id } => Some(pending_id),
            _ => None,
        }
    }
}

/// On whose behalf a request acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authority {
    /// The platform itself (deposits, escrow, settlement): any account.
    Platform,
    /// A tenant: it may debit only its own accounts, credit only tenant accounts, and resolve
    /// only pending transfers that debit its own accounts. Anything else is "not found", so
    /// other tenants' accounts and transfers do not reveal themselves.
    Tenant(String),
}

impl Authority {
    fn may_debit(&self, account: &AccountState) -> bool {
        match self {
            Authority::Platform => true,
            Authority::Tenant(tenant) => account.tenant_id.as_deref() == Some(tenant.as_str()),
        }
    }

    fn may_credit(&self, account: &AccountState) -> bool {
        match self {
            Authority::Platform => true,
            Authority::Tenant(_) => account.tenant_id.is_some(),
        }
    }
}

/// One transfer request. For post/void, the accounts and currency are those of the pending
/// transfer; a request that names others is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRequest {
    pub id: String,
    pub debit_account_id: String,
    pub credit_account_id: String,
    pub amount: i64,
    pub currency: Currency,
    pub code: String,
    pub reference: Option<String>,
    pub kind: TransferKind,
    /// This request and the next one take effect together or not at all.
    pub linked: bool,
    /// Not part of the request's content: who asks.
    pub authority: Authority,
}

/// Per-request result codes, in the order they are checked (the first that applies wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransferCode {
    /// Applied now.
    Ok,
    /// The id was used before for the same request: the original result stands, no new effect.
    Exists,
    /// The id was used before for a different request.
    ExistsWithDifferentFields,
    /// Amount zero or negative.
    InvalidAmount,
    /// Debit and credit are the same account.
    AccountsMustBeDifferent,
    DebitAccountNotFound,
    CreditAccountNotFound,
    /// The accounts, the request and (for post/void) the pending transfer disagree on currency.
    CurrencyMismatch,
    PendingTransferNotFound,
    /// Post/void naming accounts other than the pending transfer's.
    PendingTransferMismatch,
    PendingTransferAlreadyPosted,
    PendingTransferAlreadyVoided,
    PendingTransferExpired,
    /// A post larger than the pending amount.
    ExceedsPendingAmount,
    /// The debit would take a no-overdraft account below zero.
    InsufficientFunds,
    /// A running total would leave the i64 range.
    #[serde(rename = "AMOUNT_OVERFLOW")]
    Overflow,
    /// Another request of the same linked chain failed.
    LinkedTransferFailed,
    /// The last request of the batch asked to be linked to a request that does not exist.
    LinkedChainOpen,
}

impl TransferCode {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferCode::Ok => "OK",
            TransferCode::Exists => "EXISTS",
            TransferCode::ExistsWithDifferentFields => "EXISTS_WITH_DIFFERENT_FIELDS",
            TransferCode::InvalidAmount => "INVALID_AMOUNT",
            TransferCode::AccountsMustBeDifferent => "ACCOUNTS_MUST_BE_DIFFERENT",
            TransferCode::DebitAccountNotFound => "DEBIT_ACCOUNT_NOT_FOUND",
            TransferCode::CreditAccountNotFound => "CREDIT_ACCOUNT_NOT_FOUND",
            TransferCode::CurrencyMismatch => "CURRENCY_MISMATCH",
            TransferCode::PendingTransferNotFound => "PENDING_TRANSFER_NOT_FOUND",
            TransferCode::PendingTransferMismatch => "PENDING_TRANSFER_MISMATCH",
            TransferCode::PendingTransferAlreadyPosted => "PENDING_TRANSFER_ALREADY_POSTED",
            TransferCode::PendingTransferAlreadyVoided => "PENDING_TRANSFER_ALREADY_VOIDED",
            TransferCode::PendingTransferExpired => "PENDING_TRANSFER_EXPIRED",
            TransferCode::ExceedsPendingAmount => "EXCEEDS_PENDING_AMOUNT",
            TransferCode::InsufficientFunds => "INSUFFICIENT_FUNDS",
            TransferCode::Overflow => "AMOUNT_OVERFLOW",
            TransferCode::LinkedTransferFailed => "LINKED_TRANSFER_FAILED",
            TransferCode::LinkedChainOpen => "LINKED_CHAIN_OPEN",
        }
    }

    /// Whether the request's effect exists after the batch (now or from before).
    pub fn is_success(self) -> bool {
        matches!(self, TransferCode::Ok | TransferCode::Exists)
    }
}

/// A request already committed under the same id, with the fingerprint of its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingTransfer {
    pub fingerprint: String,
    /// The tenant owning the transfer's debit account, if any.
    pub debit_tenant_id: Option<String>,
}

/// Everything a batch may read and change.
#[derive(Debug, Default)]
pub struct LedgerView {
    pub accounts: HashMap<String, AccountState>,
    pub pending: HashMap<String, PendingTransfer>,
    pub existing: HashMap<String, ExistingTransfer>,
}

/// The decision for one request. For `Ok`, the balance changes have been applied to the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub code: TransferCode,
    /// For post/void: the pending transfer's new status.
    pub resolves: Option<(String, PendingStatus)>,
    /// The effective accounts and amount (post/void take them from the pending transfer).
    pub debit_account_id: String,
    pub credit_account_id: String,
    pub amount: i64,
}

/// Decides every request in order and applies the successful ones to `view`.
/// `fingerprints[i]` identifies the content of `requests[i]`.
pub fn apply_batch(
    view: &mut LedgerView,
    requests: &[TransferRequest],
    fingerprints: &[String],
    now_ms: i64,
) -> Vec<Decision> {
    let mut decisions: Vec<Decision> = Vec::with_capacity(requests.len());
    let mut start = 0;
    while start < requests.len() {
        // A chain runs from `start` through the first request that is not linked.
        let mut last = start;
        while last + 1 < requests.len() && requests[last].linked {
            last += 1;
        }
        let open = requests[last].linked;
        if last == start && !open {
            let fingerprint = fingerprints.get(start).map(String::as_str).unwrap_or("");
            decisions.push(decide(view, &requests[start], fingerprint, now_ms));
            start += 1;
            continue;
        }
        decisions.extend(apply_chain(
            view,
            &requests[start..=last],
            &fingerprints[start.min(fingerprints.len())..],
            open,
            now_ms,
        ));
        start = last + 1;
    }
    decisions
}

/// Applies a linked chain: every member takes effect, or none does.
fn apply_chain(
    view: &mut LedgerView,
    chain: &[TransferRequest],
    fingerprints: &[String],
    open: bool,
    now_ms: i64,
) -> Vec<Decision> {
    let undo = Snapshot::take(view, chain);
    let mut decisions = Vec::with_capacity(chain.len());
    let mut failed_at = None;
    for (offset, request) in chain.iter().enumerate() {
        let fingerprint = fingerprints.get(offset).map(String::as_str).unwrap_or("");
        let decision = decide(view, request, fingerprint, now_ms);
        let failed = !decision.code.is_success();
        decisions.push(decision);
        if failed {
            failed_at = Some(offset);
            break;
        }
    }
    if failed_at.is_none() && open {
        failed_at = Some(chain.len() - 1);
        if let Some(last) = decisions.last_mut() {
            last.code = TransferCode::LinkedChainOpen;
        }
    }
    let Some(failed_at) = failed_at else { return decisions };
    undo.restore(view, chain);
    for (offset, decision) in decisions.iter_mut().enumerate() {
        decision.resolves = None;
        if offset != failed_at {
            decision.code = TransferCode::LinkedTransferFailed;
        }
    }
    for request in &chain[decisions.len()..] {
        decisions.push(rejected(request, TransferCode::LinkedTransferFailed));
    }
    decisions
}

/// The entries of a view a chain may change, for undoing it.
struct Snapshot {
    accounts: Vec<(String, Option<AccountState>)>,
    pending: Vec<(String, Option<PendingTransfer>)>,
    existing: Vec<(String, Option<ExistingTransfer>)>,
}

impl Snapshot {
    fn take(view: &LedgerView, chain: &[TransferRequest]) -> Self {
        let mut account_ids: Vec<String> = Vec::new();
        let mut pending_ids: Vec<String> = Vec::new();
        for request in chain {
            account_ids.push(request.debit_account_id.clone());
            account_ids.push(request.credit_account_id.clone());
            pending_ids.push(request.id.clone());
            if let Some(id) = request.kind.pending_id() {
                pending_ids.push(id.to_string());
                if let Some(pending) = view.pending.get(id) {
                    account_ids.push(pending.debit_account_id.clone());
                    account_ids.push(pending.credit_account_id.clone());
                }
            }
        }
        Self {
            accounts: account_ids
                .into_iter()
                .map(|id| {
                    let v = view.accounts.get(&id).cloned();
                    (id, v)
                })
                .collect(),
            pending: pending_ids
                .into_iter()
                .map(|id| {
                    let v = view.pending.get(&id).cloned();
                    (id, v)
                })
                .collect(),
            existing: chain.iter().map(|r| (r.id.clone(), view.existing.get(&r.id).cloned())).collect(),
        }
    }

    fn restore(self, view: &mut LedgerView, _chain: &[TransferRequest]) {
        // Restored in reverse so the earliest snapshot of a repeated id wins.
        for (id, value) in self.accounts.into_iter().rev() {
            match value {
                Some(state) => {
                    view.accounts.insert(id, state);
                }
                None => {
                    view.accounts.remove(&id);
                }
            }
        }
        for (id, value) in self.pending.into_iter().rev() {
            match value {
                Some(state) => {
                    view.pending.insert(id, state);
                }
                None => {
                    view.pending.remove(&id);
                }
            }
        }
        for (id, value) in self.existing.into_iter().rev() {
            match value {
                Some(state) => {
                    view.existing.insert(id, state);
                }
                None => {
                    view.existing.remove(&id);
                }
            }
        }
    }
}

fn rejected(request: &TransferRequest, code: TransferCode) -> Decision {
    Decision {
        code,
        resolves: None,
        debit_account_id: request.debit_account_id.clone(),
        credit_account_id: request.credit_account_id.clone(),
        amount: request.amount,
    }
}

/// Checks one request in precedence order and, when it passes, applies it to `view` and
/// records its id as used.
fn decide(view: &mut LedgerView, request: &TransferRequest, fingerprint: &str, now_ms: i64) -> Decision {
    let decision = check_and_apply(view, request, fingerprint, now_ms);
    if decision.code == TransferCode::Ok {
        let debit_tenant_id = view.accounts.get(&decision.debit_account_id).and_then(|a| a.tenant_id.clone());
        view.existing
            .insert(request.id.clone(), ExistingTransfer { fingerprint: fingerprint.to_string(), debit_tenant_id });
    }
    decision
}

fn check_and_apply(view: &mut LedgerView, request: &TransferRequest, fingerprint: &str, now_ms: i64) -> Decision {
    if let Some(existing) = view.existing.get(&request.id) {
        let visible = match &request.authority {
            Authority::Platform => true,
            Authority::Tenant(tenant) => existing.debit_tenant_id.as_deref() == Some(tenant.as_str()),
        };
        let code = if visible && existing.fingerprint == fingerprint {
            TransferCode::Exists
        } else {
            TransferCode::ExistsWithDifferentFields
        };
        return rejected(request, code);
    }
    if request.amount <= 0 && !matches!(request.kind, TransferKind::VoidPending { .. }) {
        return rejected(request, TransferCode::InvalidAmount);
    }
    match &request.kind {
        TransferKind::Posted | TransferKind::Pending { .. } => decide_new(view, request),
        TransferKind::PostPending { pending_id } | TransferKind::VoidPending { pending_id } => {
            decide_resolution(view, request, pending_id, now_ms)
        }
    }
}

fn decide_new(view: &mut LedgerView, request: &TransferRequest) -> Decision {
    if request.debit_account_id == request.credit_account_id {
        return rejected(request, TransferCode::AccountsMustBeDifferent);
    }
    let Some(debit) = view.accounts.get(&request.debit_account_id).filter(|a| request.authority.may_debit(a)) else {
        return rejected(request, TransferCode::DebitAccountNotFound);
    };
    let Some(credit) = view.accounts.get(&request.credit_account_id).filter(|a| request.authority.may_credit(a)) else {
        return rejected(request, TransferCode::CreditAccountNotFound);
    };
    if debit.currency != request.currency || credit.currency != request.currency {
        return rejected(request, TransferCode::CurrencyMismatch);
    }
    if debit.no_overdraft && debit.available() < i128::from(request.amount) {
        return rejected(request, TransferCode::InsufficientFunds);
    }
    let pending = matches!(request.kind, TransferKind::Pending { .. });
    let (Some(debit_total), Some(credit_total)) = (
        if pending { debit.debits_pending } else { debit.debits_posted }.checked_add(request.amount),
        if pending { credit.credits_pending } else { credit.credits_posted }.checked_add(request.amount),
    ) else {
        return rejected(request, TransferCode::Overflow);
    };
    // Both accounts exist: looked up above.
    if let Some(debit) = view.accounts.get_mut(&request.debit_account_id) {
        if pending { debit.debits_pending = debit_total } else { debit.debits_posted = debit_total }
    }
    if let Some(credit) = view.accounts.get_mut(&request.credit_account_id) {
        if pending { credit.credits_pending = credit_total } else { credit.credits_posted = credit_total }
    }
    if let TransferKind::Pending { timeout_at_ms } = request.kind {
        view.pending.insert(
            request.id.clone(),
            PendingTransfer {
                id: request.id.clone(),
                debit_account_id: request.debit_account_id.clone(),
                credit_account_id: request.credit_account_id.clone(),
                amount: request.amount,
                currency: request.currency,
                status: PendingStatus::Pending,
                timeout_at_ms,
            },
        );
    }
    Decision {
        code: TransferCode::Ok,
        resolves: None,
        debit_account_id: request.debit_account_id.clone(),
        credit_account_id: request.credit_account_id.clone(),
        amount: request.amount,
    }
}

fn decide_resolution(view: &mut LedgerView, request: &TransferRequest, pending_id: &str, now_ms: i64) -> Decision {
    let payer =
        |p: &PendingTransfer| view.accounts.get(&p.debit_account_id).is_some_and(|a| request.authority.may_debit(a));
    let Some(pending) = view.pending.get(pending_id).filter(|p| payer(p)).cloned() else {
        return rejected(request, TransferCode::PendingTransferNotFound);
    };
    let names_other_accounts = (!request.debit_account_id.is_empty()
        && request.debit_account_id != pending.debit_account_id)
        || (!request.credit_account_id.is_empty() && request.credit_account_id != pending.credit_account_id);
    if names_other_accounts {
        return rejected(request, TransferCode::PendingTransferMismatch);
    }
    if request.currency != pending.currency {
        return rejected(request, TransferCode::CurrencyMismatch);
    }
    match pending.status {
        PendingStatus::Posted => return rejected(request, TransferCode::PendingTransferAlreadyPosted),
        PendingStatus::Voided => return rejected(request, TransferCode::PendingTransferAlreadyVoided),
        PendingStatus::Expired => return rejected(request, TransferCode::PendingTransferExpired),
        PendingStatus::Pending => {}
    }
    let post = matches!(request.kind, TransferKind::PostPending { .. });
    // A lapsed reservation can no longer be posted; releasing it is how it expires.
    let lapsed = pending.timeout_at_ms.is_some_and(|deadline| now_ms >= deadline);
    if lapsed && post {
        return rejected(request, TransferCode::PendingTransferExpired);
    }
    let posted_amount = if post { request.amount } else { 0 };
    if posted_amount > pending.amount {
        return rejected(request, TransferCode::ExceedsPendingAmount);
    }
    let (Some(debit), Some(credit)) =
        (view.accounts.get(&pending.debit_account_id), view.accounts.get(&pending.credit_account_id))
    else {
        return rejected(request, TransferCode::PendingTransferNotFound);
    };
    let totals = (
        debit.debits_pending.checked_sub(pending.amount),
        credit.credits_pending.checked_sub(pending.amount),
        debit.debits_posted.checked_add(posted_amount),
        credit.credits_posted.checked_add(posted_amount),
    );
    let (Some(debits_pending), Some(credits_pending), Some(debits_posted), Some(credits_posted)) = totals else {
        return rejected(request, TransferCode::Overflow);
    };
    if let Some(debit) = view.accounts.get_mut(&pending.debit_account_id) {
        debit.debits_pending = debits_pending;
        debit.debits_posted = debits_posted;
    }
    if let Some(credit) = view.accounts.get_mut(&pending.credit_account_id) {
        credit.credits_pending = credits_pending;
        credit.credits_posted = credits_posted;
    }
    let status = match (post, lapsed) {
        (true, _) => PendingStatus::Posted,
        (false, true) => PendingStatus::Expired,
        (false, false) => PendingStatus::Voided,
    };
    if let Some(stored) = view.pending.get_mut(pending_id) {
        stored.status = status;
    }
    Decision {
        code: TransferCode::Ok,
        resolves: Some((pending_id.to_string(), status)),
        debit_account_id: pending.debit_account_id.clone(),
        credit_account_id: pending.credit_account_id.clone(),
        amount: if post { posted_amount } else { pending.amount },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    const FUNDING: &str = "acct_funding";

    fn view(tenants: usize, opening: i64) -> LedgerView {
        let mut view = LedgerView::default();
        view.accounts.insert(FUNDING.into(), AccountState::new(FUNDING, None, Currency::USD, false));
        for n in 0..tenants {
            let id = format!("acct_{n}");
            view.accounts.insert(id.clone(), AccountState::new(&id, Some(&format!("tenant_{n}")), Currency::USD, true));
            let deposit = request(&format!("dep_{n}"), FUNDING, &id, opening, TransferKind::Posted);
            assert_eq!(apply(&mut view, &[deposit])[0].code, TransferCode::Ok);
        }
        view
    }

    fn request(id: &str, debit: &str, credit: &str, amount: i64, kind: TransferKind) -> TransferRequest {
        TransferRequest {
            id: id.into(),
            debit_account_id: debit.into(),
            credit_account_id: credit.into(),
            amount,
            currency: Currency::USD,
            code: "transfer".into(),
            reference: None,
            kind,
            linked: false,
            authority: Authority::Platform,
        }
    }

    fn fingerprint(request: &TransferRequest) -> String {
        let content = TransferRequest { authority: Authority::Platform, ..request.clone() };
        format!("{content:?}")
    }

    fn apply(view: &mut LedgerView, requests: &[TransferRequest]) -> Vec<Decision> {
        let fingerprints: Vec<String> = requests.iter().map(fingerprint).collect();
        apply_batch(view, requests, &fingerprints, 1_000)
    }

    fn codes(decisions: &[Decision]) -> Vec<TransferCode> {
        decisions.iter().map(|d| d.code).collect()
    }

    fn balance(view: &LedgerView, id: &str) -> i128 {
        view.accounts[id].balance()
    }

    #[test]
    fn checks_apply_in_precedence_order() {
        let mut v = view(2, 100);
        let results = apply(
            &mut v,
            &[
                request("t1", "acct_0", "acct_1", 0, TransferKind::Posted),
                request("t2", "acct_0", "acct_0", 5, TransferKind::Posted),
                request("t3", "acct_x", "acct_1", 5, TransferKind::Posted),
                request("t4", "acct_0", "acct_y", 5, TransferKind::Posted),
                request("t5", "acct_0", "acct_1", 101, TransferKind::Posted),
                request("t6", "acct_0", "acct_1", 100, TransferKind::Posted),
                request("t6", "acct_0", "acct_1", 100, TransferKind::Posted),
                request("t6", "acct_0", "acct_1", 99, TransferKind::Posted),
            ],
        );
        assert_eq!(
            codes(&results),
            vec![
                TransferCode::InvalidAmount,
                TransferCode::AccountsMustBeDifferent,
                TransferCode::DebitAccountNotFound,
                TransferCode::CreditAccountNotFound,
                TransferCode::InsufficientFunds,
                TransferCode::Ok,
                TransferCode::Exists,
                TransferCode::ExistsWithDifferentFields,
            ]
        );
        assert_eq!(balance(&v, "acct_0"), 0);
        assert_eq!(balance(&v, "acct_1"), 200);
    }

    #[test]
    fn a_tenant_reaches_only_its_own_debits_and_tenant_credits() {
        let mut v = view(2, 100);
        let as_tenant = |mut r: TransferRequest, tenant: &str| {
            r.authority = Authority::Tenant(tenant.into());
            r
        };
        let steal = as_tenant(request("s", "acct_0", "acct_1", 10, TransferKind::Posted), "tenant_1");
        let to_platform = as_tenant(request("p", "acct_0", FUNDING, 10, TransferKind::Posted), "tenant_0");
        let fair = as_tenant(request("f", "acct_0", "acct_1", 10, TransferKind::Posted), "tenant_0");
        let replay_by_other = as_tenant(request("f", "acct_0", "acct_1", 10, TransferKind::Posted), "tenant_1");
        assert_eq!(
            codes(&apply(&mut v, &[steal, to_platform, fair, replay_by_other])),
            vec![
                TransferCode::DebitAccountNotFound,
                TransferCode::CreditAccountNotFound,
                TransferCode::Ok,
                TransferCode::ExistsWithDifferentFields
            ]
        );
        let hold = request("h", "acct_0", "acct_1", 10, TransferKind::Pending { timeout_at_ms: None });
        apply(&mut v, &[hold]);
        let foreign_void =
            as_tenant(request("v", "", "", 0, TransferKind::VoidPending { pending_id: "h".into() }), "tenant_1");
        assert_eq!(codes(&apply(&mut v, &[foreign_void])), vec![TransferCode::PendingTransferNotFound]);
        let own_void =
            as_tenant(request("v", "", "", 0, TransferKind::VoidPending { pending_id: "h".into() }), "tenant_0");
        assert_eq!(codes(&apply(&mut v, &[own_void])), vec![TransferCode::Ok]);
    }

    #[test]
    fn a_pending_transfer_reserves_then_posts_or_voids_once() {
        let mut v = view(2, 100);
        let hold = request("h", "acct_0", "acct_1", 80, TransferKind::Pending { timeout_at_ms: None });
        assert_eq!(codes(&apply(&mut v, &[hold])), vec![TransferCode::Ok]);
        assert_eq!(v.accounts["acct_0"].available(), 20);
        let overspend = request("o", "acct_0", "acct_1", 21, TransferKind::Posted);
        assert_eq!(codes(&apply(&mut v, &[overspend])), vec![TransferCode::InsufficientFunds]);

        let post = |id: &str, amount| request(id, "", "", amount, TransferKind::PostPending { pending_id: "h".into() });
        let void = |id: &str| request(id, "", "", 0, TransferKind::VoidPending { pending_id: "h".into() });
        assert_eq!(codes(&apply(&mut v, &[post("p0", 81)])), vec![TransferCode::ExceedsPendingAmount]);
        assert_eq!(codes(&apply(&mut v, &[post("p1", 50)])), vec![TransferCode::Ok]);
        // Partial post: 50 moved, the other 30 released.
        assert_eq!(balance(&v, "acct_0"), 50);
        assert_eq!(v.accounts["acct_0"].available(), 50);
        assert_eq!(balance(&v, "acct_1"), 150);
        assert_eq!(codes(&apply(&mut v, &[post("p2", 10)])), vec![TransferCode::PendingTransferAlreadyPosted]);
        assert_eq!(codes(&apply(&mut v, &[void("v1")])), vec![TransferCode::PendingTransferAlreadyPosted]);
        assert_eq!(v.pending["h"].status, PendingStatus::Posted);

        let hold2 = request("h2", "acct_0", "acct_1", 10, TransferKind::Pending { timeout_at_ms: None });
        let void2 = request("v2", "", "", 0, TransferKind::VoidPending { pending_id: "h2".into() });
        let post2 = request("p3", "", "", 10, TransferKind::PostPending { pending_id: "h2".into() });
        assert_eq!(
            codes(&apply(&mut v, &[hold2, void2, post2])),
            vec![TransferCode::Ok, TransferCode::Ok, TransferCode::PendingTransferAlreadyVoided]
        );
        assert_eq!(v.accounts["acct_0"].available(), 50);
    }

    #[test]
    fn a_lapsed_pending_transfer_cannot_be_posted() {
        let mut v = view(2, 100);
        let hold = request("h", "acct_0", "acct_1", 10, TransferKind::Pending { timeout_at_ms: Some(500) });
        apply(&mut v, &[hold]);
        let post = request("p", "", "", 10, TransferKind::PostPending { pending_id: "h".into() });
        assert_eq!(codes(&apply(&mut v, &[post])), vec![TransferCode::PendingTransferExpired]);
        let expire = request("x", "", "", 0, TransferKind::VoidPending { pending_id: "h".into() });
        assert_eq!(codes(&apply(&mut v, &[expire])), vec![TransferCode::Ok]);
        assert_eq!(v.pending["h"].status, PendingStatus::Expired);
        assert_eq!(v.accounts["acct_0"].available(), 100, "the reservation is released");
        let missing = request("m", "", "", 10, TransferKind::PostPending { pending_id: "nope".into() });
        assert_eq!(codes(&apply(&mut v, &[missing])), vec![TransferCode::PendingTransferNotFound]);
    }

    #[test]
    fn a_linked_chain_applies_entirely_or_not_at_all() {
        let mut v = view(3, 100);
        let mut a = request("a", "acct_0", "acct_1", 60, TransferKind::Posted);
        a.linked = true;
        let b = request("b", "acct_0", "acct_2", 60, TransferKind::Posted);
        let after = request("c", "acct_2", "acct_1", 10, TransferKind::Posted);
        let results = apply(&mut v, &[a.clone(), b, after]);
        assert_eq!(
            codes(&results),
            vec![TransferCode::LinkedTransferFailed, TransferCode::InsufficientFunds, TransferCode::Ok]
        );
        assert_eq!(balance(&v, "acct_0"), 100, "the first leg was undone");
        assert_eq!(balance(&v, "acct_1"), 110);
        // The failed chain's ids stay free.
        let ok_b = request("b", "acct_0", "acct_2", 40, TransferKind::Posted);
        assert_eq!(codes(&apply(&mut v, &[a, ok_b])), vec![TransferCode::Ok, TransferCode::Ok]);
        assert_eq!(balance(&v, "acct_0"), 0);

        let mut open = request("open", "acct_1", "acct_2", 1, TransferKind::Posted);
        open.linked = true;
        assert_eq!(codes(&apply(&mut v, &[open])), vec![TransferCode::LinkedChainOpen]);
    }

    fn arb_request(accounts: usize) -> impl Strategy<Value = TransferRequest> {
        (0..accounts, 0..accounts, -5i64..300, 0u8..6, 0usize..40, any::<bool>()).prop_map(
            move |(d, c, amount, kind, target, linked)| {
                let id = format!("t{}", fastrand_like(d, c, amount, kind, target));
                let kind = match kind {
                    0..=2 => TransferKind::Posted,
                    3 => TransferKind::Pending { timeout_at_ms: Some(2_000) },
                    4 => TransferKind::PostPending { pending_id: format!("t{target}") },
                    _ => TransferKind::VoidPending { pending_id: format!("t{target}") },
                };
                let (debit, credit) =
                    if matches!(kind, TransferKind::PostPending { .. } | TransferKind::VoidPending { .. }) {
                        (String::new(), String::new())
                    } else {
                        (format!("acct_{d}"), format!("acct_{c}"))
                    };
                let mut r = request(&id, &debit, &credit, amount, kind);
                r.linked = linked;
                r
            },
        )
    }

    /// A small deterministic id space so ids collide and pending ids resolve sometimes.
    fn fastrand_like(d: usize, c: usize, amount: i64, kind: u8, target: usize) -> usize {
        (d * 31 + c * 17 + amount.unsigned_abs() as usize * 7 + kind as usize * 3 + target) % 40
    }

    proptest! {
        #[test]
        fn money_is_conserved_and_no_tenant_goes_negative(
            batches in proptest::collection::vec(proptest::collection::vec(arb_request(5), 1..20), 1..10)
        ) {
            let mut v = view(5, 200);
            for batch in &batches {
                let before = v.accounts.clone();
                let results = apply(&mut v, batch);
                prop_assert_eq!(results.len(), batch.len());
                let posted: i128 = v.accounts.values().map(AccountState::balance).sum();
                prop_assert_eq!(posted, 0, "posted credits and debits must match");
                let pending_debits: i128 = v.accounts.values().map(|a| i128::from(a.debits_pending)).sum();
                let pending_credits: i128 = v.accounts.values().map(|a| i128::from(a.credits_pending)).sum();
                prop_assert_eq!(pending_debits, pending_credits);
                for account in v.accounts.values().filter(|a| a.no_overdraft) {
                    prop_assert!(account.available() >= 0, "{} overdrawn", account.id);
                }
                // A batch where nothing succeeded changed nothing.
                if results.iter().all(|d| d.code != TransferCode::Ok) {
                    prop_assert_eq!(&before, &v.accounts);
                }
            }
        }
    }
}
