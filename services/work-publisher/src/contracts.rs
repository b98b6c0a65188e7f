//! Awards and the contract lifecycle.
//!
//! An award is two short transactions around settlement's escrow hold, never one transaction
//! held open across the network:
//! 1. lock the work, check it is EVALUATING with no live contract, choose the bid and insert
//!    the contract PENDING (`contracts_one_per_work` makes this the only award of the work);
//! 2. ask settlement for the hold (idempotent by contract id), then PENDING → AWARDED with the
//!    work AWARDED and `contract.awarded` in the outbox — or PENDING → ABORTED when the hold
//!    was refused or its outcome is unknown, so the work can be awarded again.
//!
//! An award interrupted between the two (a crash) is finished or abandoned by
//! [`Awards::reconcile`], which also releases holds that an abandoned award may have left.
//! Lifecycle changes lock the contract first, then its work.

use crate::domain::contract::{Action, ContractStatus, Party};
use crate::domain::work::WorkStatus;
use crate::error::{Error, Result, ResultExt};
use crate::service::SOURCE;
use crate::settlement::{HoldOutcome, Settlement};
use crate::store::contracts::{self, ContractRow, Ending, NewContract};
use crate::store::{bids, evaluations, work};
use aex_api::events::{self as subjects, ContractAwarded, ContractOutcome, ContractStarted};
use aex_common::events::outbox::{self, NewEvent};
use axum::http::StatusCode;
use sqlx::{PgConnection, PgPool};
use std::time::Duration;

/// How long an award may sit between its two steps before the reconciler takes it over;
/// longer than any settlement call with its retries.
pub const STALE_AWARD: Duration = Duration::from_secs(60);
/// Contracts expired or awards reconciled per pass.
const BATCH: i64 = 100;

/// Which bid an award takes.
#[derive(Debug, Clone)]
pub enum Choice {
    /// The owner's pick; it must not have been disqualified by the evaluation.
    Bid(String),
    /// The evaluator's best valid bid that has not expired.
    Ranking,
}

/// Who awards: the work's owner (`Some(tenant)`) or the platform on `bids.evaluated`.
#[derive(Debug, Clone, Copy)]
pub enum Awarder<'a> {
    Owner(&'a str),
    Auto,
}

impl Awarder<'_> {
    fn label(self) -> &'static str {
        match self {
            Awarder::Owner(_) => "consumer",
            Awarder::Auto => "auto",
        }
    }
}

/// Awards work and keeps contracts moving: what handlers, the `bids.evaluated` consumer and
/// the timers share.
#[derive(Debug, Clone)]
pub struct Awards {
    pub pool: PgPool,
    pub settlement: Settlement,
    /// Time a provider has from award to completion.
    pub contract_ttl: Duration,
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

fn work_status(row: &work::WorkRow) -> Result<WorkStatus> {
    row.status
        .parse()
        .map_err(|()| Error::Database(sqlx::Error::Protocol(format!("unknown work status {:?}", row.status))))
}

fn contract_status(row: &ContractRow) -> Result<ContractStatus> {
    row.status.parse().map_err(|()| Error::NotFound)
}

impl Awards {
    /// Awards the work to the chosen bid: the escrow is held and the one contract exists, or
    /// nothing changed.
    pub async fn award(&self, work_id: &str, by: Awarder<'_>, choice: Choice) -> Result<ContractRow> {
        let pending = self.reserve(work_id, by, choice).await?;
        self.hold_and_finish(&pending).await
    }

    async fn reserve(&self, work_id: &str, by: Awarder<'_>, choice: Choice) -> Result<ContractRow> {
        let mut tx = self.pool.begin().await?;
        let row = work::get_for_update(&mut tx, work_id).await?.ok_or(Error::NotFound)?;
        if let Awarder::Owner(tenant_id) = by
            && row.tenant_id != tenant_id
        {
            return Err(Error::NotFound);
        }
        if let Some(existing) = contracts::live_for_work(&mut *tx, work_id).await? {
            return Err(if existing.status == "PENDING" { Error::AwardInProgress } else { Error::AlreadyAwarded });
        }
        let status = work_status(&row)?;
        // Only closed, unawarded work: OPEN bids are sealed, and later states have moved on.
        if status != WorkStatus::Evaluating {
            return Err(Error::InvalidWorkState { from: status.as_str(), to: WorkStatus::Awarded.as_str() });
        }
        let evaluation = evaluations::get(&mut *tx, work_id).await?;
        let now = aex_types::Timestamp::now();
        let bid = match choice {
            Choice::Bid(bid_id) => {
                let bid = bids::get_for_work(&mut *tx, work_id, &bid_id).await?.ok_or(Error::BidNotFound)?;
                if evaluation.as_ref().is_some_and(|e| !e.ranking.iter().any(|r| r.bid_id == bid.id)) {
                    return Err(Error::BidDisqualified);
                }
                if bid.expires_at <= now {
                    return Err(Error::BidExpired);
                }
                bid
            }
            Choice::Ranking => {
                let evaluation = evaluation.ok_or(Error::EvaluationPending)?;
                let mut chosen = None;
                for ranked in evaluation.ranking.iter() {
                    if let Some(bid) = bids::get_for_work(&mut *tx, work_id, &ranked.bid_id).await?
                        && bid.expires_at > now
                    {
                        chosen = Some(bid);
                        break;
                    }
                }
                chosen.ok_or(Error::NoValidBids)?
            }
        };
        let new = NewContract {
            id: aex_types::ContractId::new().to_string(),
            work_id: row.id.clone(),
            bid_id: bid.id.clone(),
            consumer_tenant_id: row.tenant_id.clone(),
            provider_tenant_id: bid.tenant_id.clone(),
            provider_id: bid.provider_id.clone(),
            category: row.category.clone(),
            currency: row.currency,
            agreed_price_minor: bid.price_minor,
            provider_endpoint: bid.a2a_endpoint.clone(),
            awarded_by: by.label(),
            ttl_ms: ttl_ms(self.contract_ttl),
        };
        let pending = contracts::insert_pending(&mut tx, &new)
            .await
            .on_constraint(contracts::ONE_PER_WORK, || Error::AlreadyAwarded)?;
        tx.commit().await?;
        Ok(pending)
    }

    async fn hold_and_finish(&self, pending: &ContractRow) -> Result<ContractRow> {
        match self.settlement.place_hold(pending).await {
            HoldOutcome::Placed => self.finish(pending).await,
            HoldOutcome::Refused { status, code, message } => {
                contracts::mark_aborted(&self.pool, &pending.id, &code, true).await?;
                match status {
                    StatusCode::PAYMENT_REQUIRED => Err(Error::InsufficientFunds),
                    StatusCode::UNPROCESSABLE_ENTITY => Err(Error::HoldRefused { code, message }),
                    _ => {
                        tracing::error!(contract_id = %pending.id, %status, %code, "settlement refused the hold request");
                        Err(Error::SettlementUnavailable)
                    }
                }
            }
            HoldOutcome::NotSent(reason) => {
                tracing::warn!(contract_id = %pending.id, %reason, "award abandoned: hold not requested");
                contracts::mark_aborted(&self.pool, &pending.id, "settlement_unavailable", true).await?;
                Err(Error::SettlementUnavailable)
            }
            HoldOutcome::Unknown(reason) => {
                tracing::warn!(contract_id = %pending.id, %reason, "award abandoned: hold outcome unknown, release queued");
                contracts::mark_aborted(&self.pool, &pending.id, "settlement_unavailable", false).await?;
                Err(Error::SettlementUnavailable)
            }
        }
    }

    /// PENDING → AWARDED with its work, the bids' outcome and `contract.awarded`, in one
    /// transaction. A concurrent finisher (the reconciler) may have got there first.
    async fn finish(&self, pending: &ContractRow) -> Result<ContractRow> {
        let mut tx = self.pool.begin().await?;
        let Some(contract) = contracts::mark_awarded(&mut tx, &pending.id, ttl_ms(self.contract_ttl)).await? else {
            drop(tx);
            return match contracts::get(&self.pool, &pending.id).await? {
                Some(row) if row.status == ContractStatus::Awarded.as_str() => Ok(row),
                _ => Err(Error::SettlementUnavailable),
            };
        };
        follow_work(&mut tx, &contract.work_id, WorkStatus::Awarded).await?;
        bids::settle_award(&mut tx, &contract.work_id, &contract.bid_id).await?;
        let data = ContractAwarded {
            contract_id: contract.id.clone(),
            work_id: contract.work_id.clone(),
            bid_id: contract.bid_id.clone(),
            consumer_tenant_id: contract.consumer_tenant_id.clone(),
            provider_tenant_id: contract.provider_tenant_id.clone(),
            provider_id: contract.provider_id.clone(),
            currency: contract.currency.code().to_string(),
            agreed_price_minor: contract.agreed_price_minor,
            awarded_by: contract.awarded_by.clone(),
            awarded_at: contract.awarded_at.map(|t| t.to_string()).unwrap_or_default(),
            expires_at: contract.expires_at.to_string(),
        };
        let event = NewEvent::new(subjects::CONTRACT_AWARDED, &data).tenant(&contract.consumer_tenant_id);
        outbox::enqueue(&mut tx, SOURCE, event).await?;
        tx.commit().await?;
        tracing::info!(contract_id = %contract.id, work_id = %contract.work_id, awarded_by = %contract.awarded_by, "work awarded");
        Ok(contract)
    }

    /// Finishes awards interrupted between their two steps and releases holds that abandoned
    /// awards may have left; returns how many were resolved.
    pub async fn reconcile(&self) -> Result<usize> {
        let stale = ttl_ms(STALE_AWARD);
        let mut resolved = 0;
        for row in contracts::unresolved(&self.pool, stale, BATCH).await? {
            if row.status == "PENDING" {
                match self.hold_and_finish(&row).await {
                    Ok(_) | Err(Error::InsufficientFunds | Error::HoldRefused { .. }) => resolved += 1,
                    Err(error) => tracing::warn!(contract_id = %row.id, %error, "interrupted award still unresolved"),
                }
            } else {
                match self.settlement.release_abandoned(&row.id).await {
                    Ok(()) => {
                        contracts::mark_hold_settled(&self.pool, &row.id).await?;
                        resolved += 1;
                    }
                    Err(reason) => {
                        tracing::warn!(contract_id = %row.id, %reason, "release of an abandoned hold failed")
                    }
                }
            }
        }
        Ok(resolved)
    }
}

/// Moves the contract's work to `to` along the work state machine.
async fn follow_work(tx: &mut PgConnection, work_id: &str, to: WorkStatus) -> Result<()> {
    let row = work::get_for_update(tx, work_id).await?.ok_or(Error::NotFound)?;
    let from = work_status(&row)?;
    let to = from.transition(to)?;
    if !work::set_status(tx, work_id, from.as_str(), to.as_str()).await? {
        return Err(Error::InvalidWorkState { from: from.as_str(), to: to.as_str() });
    }
    Ok(())
}

/// The contract locked, with the caller's side of it; anyone else gets 404, as does an award
/// still in progress.
async fn locked_for_party(tx: &mut PgConnection, tenant_id: &str, contract_id: &str) -> Result<(ContractRow, Party)> {
    let row = contracts::get_for_update(tx, contract_id).await?.ok_or(Error::NotFound)?;
    let party = party_of(&row, tenant_id).ok_or(Error::NotFound)?;
    Ok((row, party))
}

/// The caller's side of a contract, if it is a party of a contract that exists for the API.
pub fn party_of(row: &ContractRow, tenant_id: &str) -> Option<Party> {
    if row.status.parse::<ContractStatus>().is_err() {
        return None;
    }
    if row.provider_tenant_id == tenant_id {
        Some(Party::Provider)
    } else if row.consumer_tenant_id == tenant_id {
        Some(Party::Consumer)
    } else {
        None
    }
}

fn outcome(row: &ContractRow, success: bool, reason: Option<String>) -> ContractOutcome {
    ContractOutcome {
        contract_id: row.id.clone(),
        work_id: row.work_id.clone(),
        consumer_tenant_id: row.consumer_tenant_id.clone(),
        provider_tenant_id: row.provider_tenant_id.clone(),
        provider_id: row.provider_id.clone(),
        success,
        reason,
    }
}

/// A progress report of the winning provider.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub percent: Option<i16>,
    pub status: Option<String>,
    pub message: Option<String>,
}

/// Records progress; the first report starts execution (contract and work EXECUTING,
/// `contract.started`).
pub async fn report_progress(
    pool: &PgPool,
    tenant_id: &str,
    contract_id: &str,
    report: Progress,
) -> Result<ContractRow> {
    let mut tx = pool.begin().await?;
    let (row, party) = locked_for_party(&mut tx, tenant_id, contract_id).await?;
    let from = contract_status(&row)?;
    from.apply(Action::Progress, Some(party))?;
    let updated = contracts::record_progress(
        &mut tx,
        &row.id,
        from.as_str(),
        report.percent,
        report.status.as_deref(),
        report.message.as_deref(),
    )
    .await?
    .ok_or_else(|| Error::InvalidContractState(format!("contract is no longer {from}")))?;
    if from == ContractStatus::Awarded {
        follow_work(&mut tx, &row.work_id, WorkStatus::Executing).await?;
        let data = ContractStarted {
            contract_id: updated.id.clone(),
            work_id: updated.work_id.clone(),
            consumer_tenant_id: updated.consumer_tenant_id.clone(),
            provider_tenant_id: updated.provider_tenant_id.clone(),
            provider_id: updated.provider_id.clone(),
            started_at: updated.started_at.map(|t| t.to_string()).unwrap_or_default(),
        };
        let event = NewEvent::new(subjects::CONTRACT_STARTED, &data).tenant(&updated.consumer_tenant_id);
        outbox::enqueue(&mut tx, SOURCE, event).await?;
    }
    tx.commit().await?;
    Ok(updated)
}

/// The winning provider's completion report.
#[derive(Debug, Clone)]
pub struct Completion {
    pub success: bool,
    pub result_summary: Option<String>,
    pub result_location: Option<String>,
    pub metrics: Option<serde_json::Value>,
}

/// Completes an executing contract: success pays the provider (`contract.completed`), a
/// reported failure returns the escrow to the consumer (`contract.failed`).
pub async fn complete(pool: &PgPool, tenant_id: &str, contract_id: &str, report: Completion) -> Result<ContractRow> {
    let mut tx = pool.begin().await?;
    let (row, party) = locked_for_party(&mut tx, tenant_id, contract_id).await?;
    let from = contract_status(&row)?;
    let to = from.apply(Action::Complete { success: report.success }, Some(party))?;
    let ending = Ending {
        to: to.as_str(),
        result_summary: report.result_summary.as_deref(),
        result_location: report.result_location.as_deref(),
        metrics: report.metrics.as_ref(),
        failure_reason: (!report.success).then_some("provider_reported_failure"),
        failure_message: if report.success { None } else { report.result_summary.as_deref() },
        failed_by: (!report.success).then_some(party.as_str()),
    };
    let done = end(&mut tx, &row, from, &ending).await?;
    tx.commit().await?;
    Ok(done)
}

/// A party's failure report.
#[derive(Debug, Clone)]
pub struct Failure {
    pub reason: String,
    pub message: Option<String>,
}

/// Fails a live contract at either party's request; the escrow goes back to the consumer.
pub async fn fail(pool: &PgPool, tenant_id: &str, contract_id: &str, report: Failure) -> Result<ContractRow> {
    let mut tx = pool.begin().await?;
    let (row, party) = locked_for_party(&mut tx, tenant_id, contract_id).await?;
    let from = contract_status(&row)?;
    let to = from.apply(Action::Fail, Some(party))?;
    let ending = Ending {
        to: to.as_str(),
        result_summary: None,
        result_location: None,
        metrics: None,
        failure_reason: Some(&report.reason),
        failure_message: report.message.as_deref(),
        failed_by: Some(party.as_str()),
    };
    let done = end(&mut tx, &row, from, &ending).await?;
    tx.commit().await?;
    Ok(done)
}

/// Ends a contract: its row, its work (COMPLETED or FAILED) and the outcome event together.
async fn end(
    tx: &mut PgConnection,
    row: &ContractRow,
    from: ContractStatus,
    ending: &Ending<'_>,
) -> Result<ContractRow> {
    let done = contracts::finish(tx, &row.id, from.as_str(), ending)
        .await?
        .ok_or_else(|| Error::InvalidContractState(format!("contract is no longer {from}")))?;
    let success = done.status == ContractStatus::Completed.as_str();
    follow_work(tx, &row.work_id, if success { WorkStatus::Completed } else { WorkStatus::Failed }).await?;
    let (subject, data) = if success {
        (subjects::CONTRACT_COMPLETED, outcome(&done, true, None))
    } else {
        (subjects::CONTRACT_FAILED, outcome(&done, false, done.failure_reason.clone()))
    };
    outbox::enqueue(tx, SOURCE, NewEvent::new(subject, &data).tenant(&done.consumer_tenant_id)).await?;
    Ok(done)
}

/// Expires every live contract past its deadline (EXPIRED, work FAILED, `contract.failed`
/// with reason `expired`); returns the contracts expired. Safe with several replicas.
pub async fn expire_due(pool: &PgPool) -> Result<Vec<ContractRow>> {
    let mut expired = Vec::new();
    loop {
        let mut tx = pool.begin().await?;
        let due = contracts::lock_overdue(&mut tx, BATCH).await?;
        let full = due.len() as i64 == BATCH;
        for row in due {
            let from = contract_status(&row)?;
            let to = from.apply(Action::Expire, None)?;
            let ending = Ending {
                to: to.as_str(),
                result_summary: None,
                result_location: None,
                metrics: None,
                failure_reason: Some("expired"),
                failure_message: Some("the contract passed its deadline"),
                failed_by: None,
            };
            expired.push(end(&mut tx, &row, from, &ending).await?);
        }
        tx.commit().await?;
        if !full {
            return Ok(expired);
        }
    }
}
