//! The ledger's write path: group commit.
//!
//! Every caller hands its transfer requests to one batcher task per process and waits. The
//! batcher takes whatever has queued while the previous batch was committing and commits it
//! all in one Postgres transaction: chain head locked first (which orders batches across
//! replicas), accounts locked once per batch in id order, every request decided in arrival
//! order by [`crate::domain::ledger::apply_batch`] (a failed request never fails its
//! neighbours), transfers, journal links and totals written with one statement each. Each
//! caller is answered after the commit. Under load, batches grow, so throughput grows with load
//! while the hot platform accounts are locked once per batch rather than once per transfer.
//!
//! With several instances, one holds the writer lease ([`election`]) and the others hand it
//! their batches ([`handoff`]), so all instances' requests merge into one instance's commits.

pub mod election;
pub mod handoff;

use crate::domain::journal::{JournalEntry, StoredLink, chain_hash};
use crate::domain::ledger::{
    Authority, ExistingTransfer, LedgerView, PendingStatus, TransferCode, TransferKind, TransferRequest, apply_batch,
};
use crate::store::journal::NewLink;
use crate::store::transfers::TransferRow;
use crate::store::{accounts, journal, transfers};
use aex_common::db::retry_on_conflict;
use aex_types::Timestamp;
use election::{Candidate, Role};
use futures::future::BoxFuture;
use handoff::{Counters, Handoff, JobResult};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

/// Most transfers committed in one transaction (and the largest batch the API accepts).
pub const MAX_BATCH: usize = aex_api::limits::MAX_TRANSFER_BATCH;
/// Requests waiting for the batcher before callers are told to back off.
const QUEUE_DEPTH: usize = 16_384;

/// The result for one request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransferOutcome {
    pub id: String,
    pub code: TransferCode,
    /// The committed transfer for `Ok` and `Exists`.
    pub transfer: Option<TransferRow>,
}

/// Why a submission got no per-request answers.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("the ledger is shutting down")]
    Closed,
    /// The database could not be reached (connection lost, pool exhausted); nothing was
    /// committed and the same ids can be sent again.
    #[error("the database is unavailable")]
    Unavailable,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// How a job whose batch failed is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobFailure {
    /// The database is out of reach: every job of the batch is told so.
    Unavailable,
    /// The database refused this job's own writes (found by isolating it from the batch).
    Refused,
}

impl JobFailure {
    /// Server-reported errors are tied to what was written, so isolating the job that caused
    /// them lets the others commit; anything else (I/O, pool) would fail every attempt alike.
    fn of(error: &LedgerError) -> Self {
        match error {
            LedgerError::Database(sqlx::Error::Database(_)) => Self::Refused,
            _ => Self::Unavailable,
        }
    }
}

impl aex_common::db::Retryable for LedgerError {
    fn is_retryable(&self) -> bool {
        matches!(self, LedgerError::Database(e) if aex_common::db::is_retryable(e))
    }
}

/// Writes that must commit in the same transaction as a job's transfers (a settlement record,
/// an outbox event), given that job's outcomes. It runs only when every transfer of the job
/// took effect in this batch (all `Ok`): a replay (`Exists`) or a refusal writes nothing, so a
/// record or event exists exactly when its transfers were applied. Runs again if the batch is
/// retried (it sees the outcomes of the attempt that commits).
pub trait BatchEffect: Send + Sync {
    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        outcomes: &'a [TransferOutcome],
    ) -> BoxFuture<'a, Result<(), sqlx::Error>>;
}

struct Job {
    requests: Vec<TransferRequest>,
    effect: Option<Arc<dyn BatchEffect>>,
    /// Commit in this instance, never hand off: a job handed to this instance as the writer,
    /// or one whose handoff failed.
    local: bool,
    reply: oneshot::Sender<Result<Vec<TransferOutcome>, JobFailure>>,
}

/// Handle to the batcher. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Ledger {
    queue: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    instance: Arc<str>,
    role: watch::Receiver<Role>,
    counters: Arc<Counters>,
}

/// Several instances on one database: how this one takes part in the writer election, and
/// the client it hands batches to the writer with.
pub struct Replication {
    pub candidate: Candidate,
    pub client: aex_common::http_client::HttpClient,
    /// Handoffs a follower keeps in flight at once.
    pub handoffs_in_flight: usize,
}

/// Who writes the ledger, as `GET /internal/v1/ledger/writer` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WriterStatus {
    pub instance: String,
    pub role: &'static str,
    /// The writer this instance hands its batches to (followers only).
    pub writer: Option<String>,
    pub writer_address: Option<String>,
    /// Jobs this instance handed to the writer, received as the writer, and committed itself
    /// after a handoff failed, since it started.
    pub handed_off_jobs: u64,
    pub received_jobs: u64,
    pub committed_locally_after_failure: u64,
}

impl Ledger {
    /// Starts the batcher and the writer election; both stop when `shutdown` is cancelled, the
    /// batcher after the batch in hand.
    pub fn start(
        pool: PgPool,
        replication: Replication,
        shutdown: CancellationToken,
    ) -> (Self, impl std::future::Future<Output = ()>) {
        let (queue, receiver) = mpsc::channel(QUEUE_DEPTH);
        let Replication { candidate, client, handoffs_in_flight } = replication;
        let (role_sender, role) = watch::channel(Role::Standalone);
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared { instance: candidate.instance.clone(), role, counters: counters.clone() });
        let handoff = Handoff::new(client, handoffs_in_flight, counters);
        let requeue = queue.downgrade();
        let batcher = run_batcher(pool.clone(), receiver, requeue, shared.clone(), handoff, shutdown.clone());
        let election = election::run(pool, candidate, role_sender, shutdown);
        let tasks = async move {
            tokio::join!(batcher, election);
        };
        (Self { queue, shared }, tasks)
    }

    /// This instance's part in writing the ledger.
    pub fn writer_status(&self) -> WriterStatus {
        let role = self.shared.role.borrow().clone();
        let (writer, writer_address) = match &role {
            Role::Follower { writer, address } => (Some(writer.clone()), Some(address.to_string())),
            Role::Writer => (Some(self.shared.instance.to_string()), None),
            Role::Standalone => (None, None),
        };
        let counters = &self.shared.counters;
        WriterStatus {
            instance: self.shared.instance.to_string(),
            role: role.as_str(),
            writer,
            writer_address,
            handed_off_jobs: counters.handed_off.load(Ordering::Relaxed),
            received_jobs: counters.received.load(Ordering::Relaxed),
            committed_locally_after_failure: counters.committed_locally_after_failure.load(Ordering::Relaxed),
        }
    }

    /// Commits jobs another instance handed to this one (as the writer): each is queued as a
    /// job of this batcher, never handed on, and answered in order.
    pub async fn commit_handed_off(&self, jobs: Vec<Vec<TransferRequest>>) -> Vec<JobResult> {
        self.shared.counters.received.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        let mut answers = Vec::with_capacity(jobs.len());
        for requests in jobs {
            let (reply, answer) = oneshot::channel();
            let job = Job { requests, effect: None, local: true, reply };
            if self.queue.send(job).await.is_err() {
                answers.push(None);
                continue;
            }
            answers.push(Some(answer));
        }
        self.record_queue_depth();
        let mut results = Vec::with_capacity(answers.len());
        for answer in answers {
            let result = match answer {
                Some(answer) => answer.await.unwrap_or(Err(JobFailure::Unavailable)),
                None => Err(JobFailure::Unavailable),
            };
            results.push(JobResult::from(result));
        }
        results
    }

    /// Jobs waiting for the batcher, as the `aex_ledger_queue_depth` gauge.
    fn record_queue_depth(&self) {
        let waiting = self.queue.max_capacity().saturating_sub(self.queue.capacity());
        metrics::gauge!("aex_ledger_queue_depth").set(waiting as f64);
    }

    /// Commits `requests` (in order, within one batch) and returns one outcome per request.
    pub async fn submit(&self, requests: Vec<TransferRequest>) -> Result<Vec<TransferOutcome>, LedgerError> {
        self.submit_with_effect(requests, None).await
    }

    /// Like [`Ledger::submit`], with `effect` written in the same transaction.
    pub async fn submit_with_effect(
        &self,
        requests: Vec<TransferRequest>,
        effect: Option<Arc<dyn BatchEffect>>,
    ) -> Result<Vec<TransferOutcome>, LedgerError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Job { requests, effect, local: false, reply }).await.map_err(|_| LedgerError::Closed)?;
        self.record_queue_depth();
        match answer.await {
            Ok(Ok(outcomes)) => Ok(outcomes),
            Ok(Err(JobFailure::Unavailable)) => Err(LedgerError::Unavailable),
            Ok(Err(JobFailure::Refused)) => {
                Err(LedgerError::Database(sqlx::Error::Protocol("the database refused this request's writes".into())))
            }
            Err(_) => Err(LedgerError::Closed),
        }
    }
}

async fn run_batcher(
    pool: PgPool,
    mut receiver: mpsc::Receiver<Job>,
    requeue: mpsc::WeakSender<Job>,
    shared: Arc<Shared>,
    handoff: Handoff,
    shutdown: CancellationToken,
) {
    tracing::info!(task = "ledger-batcher", "started");
    // Commits a batch here, or hands what may be handed off to the writer.
    let dispatch = |jobs: Vec<Job>| {
        let role = shared.role.borrow().clone();
        let pool = &pool;
        let handoff = &handoff;
        let requeue = requeue.clone();
        async move {
            let Role::Follower { address, .. } = role else {
                return commit_and_answer(pool, jobs).await;
            };
            let (local, remote): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| j.local || j.effect.is_some());
            if !remote.is_empty() {
                handoff.spawn(address, remote, requeue).await;
            }
            commit_and_answer(pool, local).await;
        }
    };
    loop {
        let first = tokio::select! {
            job = receiver.recv() => job,
            _ = shutdown.cancelled() => None,
        };
        let Some(first) = first else { break };
        let mut size = first.requests.len();
        let mut jobs = vec![first];
        while size < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) if size + job.requests.len() <= MAX_BATCH => {
                    size += job.requests.len();
                    jobs.push(job);
                }
                Ok(job) => {
                    // Too big to join this batch: it opens the next one.
                    dispatch(std::mem::take(&mut jobs)).await;
                    size = job.requests.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        metrics::histogram!("aex_ledger_batch_size").record(size as f64);
        metrics::gauge!("aex_ledger_queue_depth").set(receiver.len() as f64);
        dispatch(jobs).await;
    }
    tracing::info!(task = "ledger-batcher", "stopped");
}

/// Commits `jobs` as one batch and answers each. If the database refuses the batch for a
/// reason tied to what it writes (a constraint, a value it cannot store, a failing effect),
/// the batch is split in halves and each half committed on its own, recursively, so only the
/// job that causes the refusal fails and its neighbours — other tenants' requests — commit.
fn commit_and_answer(pool: &PgPool, mut jobs: Vec<Job>) -> BoxFuture<'_, ()> {
    Box::pin(async move {
        if jobs.is_empty() {
            return;
        }
        // The jobs' requests move into one batch (thousands of them: no copies) and move back
        // only if the batch has to be split.
        let mut mine: Vec<usize> = Vec::with_capacity(jobs.len());
        let mut requests: Vec<TransferRequest> = Vec::with_capacity(jobs.iter().map(|j| j.requests.len()).sum());
        let mut effects: Vec<(Range<usize>, Arc<dyn BatchEffect>)> = Vec::new();
        for job in &mut jobs {
            let start = requests.len();
            mine.push(job.requests.len());
            requests.append(&mut job.requests);
            if let Some(effect) = &job.effect {
                effects.push((start..requests.len(), effect.clone()));
            }
        }
        let started = std::time::Instant::now();
        let result = retry_on_conflict(5, || commit_batch(pool, &requests, &effects)).await;
        metrics::histogram!("aex_ledger_batch_commit_seconds").record(started.elapsed().as_secs_f64());
        match result {
            Ok(mut outcomes) => {
                for (job, count) in jobs.into_iter().zip(mine).rev() {
                    let split = outcomes.len().saturating_sub(count);
                    let _ = job.reply.send(Ok(outcomes.split_off(split)));
                }
            }
            Err(error) => match JobFailure::of(&error) {
                JobFailure::Refused if jobs.len() > 1 => {
                    tracing::warn!(%error, jobs = jobs.len(), transfers = requests.len(), "ledger batch refused; isolating the cause");
                    metrics::counter!("aex_ledger_batch_splits_total").increment(1);
                    let mut rest = requests.into_iter();
                    for (job, count) in jobs.iter_mut().zip(mine) {
                        job.requests = rest.by_ref().take(count).collect();
                    }
                    let mut first = jobs;
                    let second = first.split_off(first.len() / 2);
                    commit_and_answer(pool, first).await;
                    commit_and_answer(pool, second).await;
                }
                failure => {
                    let ids: Vec<&str> = requests.iter().take(5).map(|r| r.id.as_str()).collect();
                    tracing::error!(%error, ?failure, transfers = requests.len(), first_ids = ?ids, "ledger batch failed");
                    for job in jobs {
                        let _ = job.reply.send(Err(failure));
                    }
                }
            },
        }
    })
}

/// A stable digest of what a request asks for, to tell a replay from a reuse of its id.
pub fn fingerprint(request: &TransferRequest) -> String {
    let timeout = match &request.kind {
        TransferKind::Pending { timeout_at_ms } => timeout_at_ms.map(|t| t.to_string()).unwrap_or_default(),
        _ => String::new(),
    };
    let parts = [
        request.kind.as_str(),
        &request.debit_account_id,
        &request.credit_account_id,
        &request.amount.to_string(),
        request.currency.code(),
        &request.code,
        request.reference.as_deref().unwrap_or(""),
        request.kind.pending_id().unwrap_or(""),
        &timeout,
        if request.linked { "linked" } else { "" },
    ];
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

async fn commit_batch(
    pool: &PgPool,
    requests: &[TransferRequest],
    effects: &[(Range<usize>, Arc<dyn BatchEffect>)],
) -> Result<Vec<TransferOutcome>, LedgerError> {
    let mut tx = pool.begin().await?;
    let (mut seq, mut prev_hash) = journal::lock_head(&mut tx).await?;

    let ids: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
    let existing = transfers::by_ids(&mut tx, &ids).await?;
    let pending_ids: Vec<String> = requests
        .iter()
        .filter_map(|r| r.kind.pending_id().map(str::to_string))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let pending_rows = transfers::lock_pending(&mut tx, &pending_ids).await?;

    let mut account_ids: HashSet<String> = HashSet::new();
    for request in requests {
        account_ids.insert(request.debit_account_id.clone());
        account_ids.insert(request.credit_account_id.clone());
    }
    for row in &pending_rows {
        account_ids.insert(row.debit_account_id.clone());
        account_ids.insert(row.credit_account_id.clone());
    }
    account_ids.remove("");
    let account_ids: Vec<String> = account_ids.into_iter().collect();
    let account_rows = accounts::lock(&mut tx, &account_ids).await?;

    let mut view = LedgerView::default();
    for row in &account_rows {
        if let Some(state) = row.state() {
            view.accounts.insert(state.id.clone(), state);
        }
    }
    for row in &pending_rows {
        if let Some(pending) = row.as_pending() {
            view.pending.insert(pending.id.clone(), pending);
        }
    }
    for (id, (row, debit_tenant_id)) in &existing {
        let known = ExistingTransfer { fingerprint: row.fingerprint.clone(), debit_tenant_id: debit_tenant_id.clone() };
        view.existing.insert(id.clone(), known);
    }
    let before = view.accounts.clone();

    let fingerprints: Vec<String> = requests.iter().map(fingerprint).collect();
    let now = Timestamp::now();
    let decisions = apply_batch(&mut view, requests, &fingerprints, now.unix_millis());

    let created_at = now;
    let created_text = now.to_string();
    let mut new_rows: Vec<TransferRow> = Vec::new();
    let mut links: Vec<NewLink> = Vec::new();
    let mut resolutions: Vec<(String, PendingStatus)> = Vec::new();
    let mut outcomes: Vec<TransferOutcome> = Vec::with_capacity(requests.len());
    let mut written: Vec<usize> = Vec::new();
    for ((request, decision), fingerprint) in requests.iter().zip(&decisions).zip(&fingerprints) {
        let transfer = match decision.code {
            TransferCode::Ok => {
                seq += 1;
                let (timeout_at, pending_status) = match request.kind {
                    TransferKind::Pending { timeout_at_ms } => (
                        timeout_at_ms.and_then(|ms| Timestamp::from_unix_millis(ms).ok()),
                        Some(PendingStatus::Pending.as_str().to_string()),
                    ),
                    _ => (None, None),
                };
                let row = TransferRow {
                    id: request.id.clone(),
                    debit_account_id: decision.debit_account_id.clone(),
                    credit_account_id: decision.credit_account_id.clone(),
                    amount: decision.amount,
                    currency: request.currency,
                    code: request.code.clone(),
                    reference: request.reference.clone(),
                    kind: request.kind.as_str().to_string(),
                    pending_id: request.kind.pending_id().map(str::to_string),
                    timeout_at,
                    pending_status,
                    fingerprint: fingerprint.clone(),
                    journal_seq: seq,
                    created_at,
                };
                let entry = JournalEntry {
                    seq,
                    transfer_id: row.id.clone(),
                    kind: row.kind.clone(),
                    debit_account_id: row.debit_account_id.clone(),
                    credit_account_id: row.credit_account_id.clone(),
                    amount_minor: row.amount,
                    currency: row.currency.code().to_string(),
                    code: row.code.clone(),
                    reference: row.reference.clone(),
                    pending_id: row.pending_id.clone(),
                    created_at: created_text.clone(),
                }
                .canonical();
                let hash = chain_hash(&prev_hash, &entry).to_vec();
                links.push(NewLink {
                    transfer_id: row.id.clone(),
                    link: StoredLink { seq, entry, prev_hash: std::mem::replace(&mut prev_hash, hash.clone()), hash },
                });
                if let Some(resolution) = &decision.resolves {
                    resolutions.push(resolution.clone());
                }
                // The row moves into this outcome once it is written (below).
                written.push(outcomes.len());
                new_rows.push(row);
                None
            }
            TransferCode::Exists => existing.get(&request.id).map(|(row, _)| row.clone()),
            _ => None,
        };
        outcomes.push(TransferOutcome { id: request.id.clone(), code: decision.code, transfer });
    }

    // Repeats within one batch of an id committed earlier in the same batch.
    for outcome in outcomes.iter_mut().filter(|o| o.code == TransferCode::Exists && o.transfer.is_none()) {
        outcome.transfer = new_rows.iter().find(|r| r.id == outcome.id).cloned();
    }

    let committed = new_rows.len();
    transfers::insert_many(&mut tx, &new_rows).await?;
    transfers::set_pending_status(&mut tx, &resolutions).await?;
    journal::append(&mut tx, &links).await?;
    for (index, row) in written.into_iter().zip(new_rows) {
        if let Some(outcome) = outcomes.get_mut(index) {
            outcome.transfer = Some(row);
        }
    }
    let changed: Vec<&crate::domain::ledger::AccountState> =
        view.accounts.values().filter(|state| before.get(&state.id) != Some(state)).collect();
    accounts::save_totals(&mut tx, &changed).await?;
    for (range, effect) in effects {
        let mine = outcomes.get(range.clone()).unwrap_or(&[]);
        if mine.iter().all(|o| o.code == TransferCode::Ok) {
            effect.apply(&mut tx, mine).await?;
        }
    }
    tx.commit().await?;
    metrics::counter!("aex_ledger_transfers_committed_total").increment(committed as u64);
    Ok(outcomes)
}

/// Voids pending transfers whose timeout has passed, every `interval`, until `shutdown`.
pub async fn expire_lapsed_holds(pool: PgPool, ledger: Ledger, interval: Duration, shutdown: CancellationToken) {
    tracing::info!(task = "pending-expirer", "started");
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {},
        }
        let lapsed = match transfers::lapsed_pending(&pool, 500).await {
            Ok(lapsed) => lapsed,
            Err(error) => {
                tracing::warn!(task = "pending-expirer", %error, "cannot list lapsed holds");
                continue;
            }
        };
        let requests: Vec<TransferRequest> = lapsed
            .into_iter()
            .map(|(id, currency)| TransferRequest {
                id: format!("expire_{id}"),
                debit_account_id: String::new(),
                credit_account_id: String::new(),
                amount: 0,
                currency,
                code: "expiry".into(),
                reference: None,
                kind: TransferKind::VoidPending { pending_id: id },
                linked: false,
                authority: Authority::Platform,
            })
            .collect();
        if requests.is_empty() {
            continue;
        }
        match ledger.submit(requests).await {
            Ok(outcomes) => {
                let expired = outcomes.iter().filter(|o| o.code == TransferCode::Ok).count();
                metrics::counter!("aex_ledger_holds_expired_total").increment(expired as u64);
            }
            Err(error) => tracing::warn!(task = "pending-expirer", %error, "expiry batch failed"),
        }
    }
    tracing::info!(task = "pending-expirer", "stopped");
}
