//! Handing batches to the elected writer (ADR 0014).
//!
//! A follower's batcher sends the jobs it collected to the writer in one internal request;
//! the writer queues each as a job of its own batcher, so they merge with its own and with
//! the other followers' into one commit, and answers each job's outcomes. Jobs that carry a
//! batch effect (a settlement record and its event, written in the same transaction) are
//! never handed off: their effect is code, not data, and commits where it was asked for.
//!
//! Whatever goes wrong on the way — the writer unreachable, a timeout, a refusal of the
//! handoff itself, the writer shutting down — the follower commits the jobs itself. That is
//! safe even when the writer did commit them before the answer was lost: every transfer id
//! takes effect once, so the local commit answers those as `EXISTS` with the committed
//! transfer, and the caller's money moved exactly once.

use super::{Job, JobFailure, TransferOutcome};
use crate::domain::ledger::TransferRequest;
use aex_common::http_client::{Downstream, HttpClient, RequestSpec};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use url::Url;

/// Where the writer accepts handed-off batches.
pub const PATH: &str = "/internal/v1/ledger/batches";
/// How long a follower waits for the writer's answer before committing the jobs itself.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The jobs of one handoff.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffRequest {
    pub jobs: Vec<HandoffJob>,
}

/// One caller's requests, committed together in the writer's batch.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffJob {
    pub requests: Vec<TransferRequest>,
}

/// The writer's answer: one result per job, in order.
#[derive(Debug, Serialize, Deserialize)]
pub struct HandoffResponse {
    pub results: Vec<JobResult>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum JobResult {
    Committed {
        outcomes: Vec<TransferOutcome>,
    },
    /// The writer could not commit (database out of reach, shutting down): nothing was
    /// committed by this handoff.
    Unavailable,
    /// The database refused this job's own writes.
    Refused,
}

/// Counts of what crossed between instances, for the writer endpoint and tests.
#[derive(Debug, Default)]
pub struct Counters {
    pub handed_off: AtomicU64,
    pub received: AtomicU64,
    pub committed_locally_after_failure: AtomicU64,
}

/// A follower's side of the handoff.
#[derive(Clone)]
pub(super) struct Handoff {
    client: HttpClient,
    slots: Arc<Semaphore>,
    counters: Arc<Counters>,
}

impl Handoff {
    /// At most `in_flight` handoffs wait for the writer at once; then the batcher waits for a
    /// slot and its queue grows into a larger handoff, as it grows while a local commit runs.
    pub(super) fn new(client: HttpClient, in_flight: usize, counters: Arc<Counters>) -> Self {
        Self { client, slots: Arc::new(Semaphore::new(in_flight.max(1))), counters }
    }

    /// Sends `jobs` to the writer at `address` in the background, once a slot is free. Jobs
    /// the writer does not answer come back to `requeue` marked local.
    pub(super) async fn spawn(&self, address: Url, jobs: Vec<Job>, requeue: mpsc::WeakSender<Job>) {
        let Ok(slot) = self.slots.clone().acquire_owned().await else {
            requeue_all(jobs, &requeue, &self.counters).await;
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            this.send(address, jobs, requeue).await;
            drop(slot);
        });
    }

    async fn send(&self, address: Url, jobs: Vec<Job>, requeue: mpsc::WeakSender<Job>) {
        let body =
            HandoffRequest { jobs: jobs.iter().map(|job| HandoffJob { requests: job.requests.clone() }).collect() };
        let downstream = Downstream::new("ledger-writer", address);
        let answer = self.client.call(&downstream, RequestSpec::post(PATH).json(&body).timeout(TIMEOUT)).await;
        let results = match answer.and_then(|response| response.error_for_status()).and_then(|r| r.json()) {
            Ok(HandoffResponse { results }) if results.len() == jobs.len() => results,
            Ok(HandoffResponse { results }) => {
                tracing::warn!(
                    jobs = jobs.len(),
                    results = results.len(),
                    "the ledger writer answered a handoff partly"
                );
                return requeue_all(jobs, &requeue, &self.counters).await;
            }
            Err(error) => {
                tracing::warn!(%error, jobs = jobs.len(), "ledger handoff failed; committing locally");
                return requeue_all(jobs, &requeue, &self.counters).await;
            }
        };
        self.counters.handed_off.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        metrics::counter!("aex_ledger_handoff_jobs_total").increment(jobs.len() as u64);
        for (job, result) in jobs.into_iter().zip(results) {
            match result {
                JobResult::Committed { outcomes } if outcomes.len() == job.requests.len() => {
                    let _ = job.reply.send(Ok(outcomes));
                }
                JobResult::Refused => {
                    let _ = job.reply.send(Err(JobFailure::Refused));
                }
                JobResult::Committed { .. } | JobResult::Unavailable => {
                    requeue_all(vec![job], &requeue, &self.counters).await;
                }
            }
        }
    }
}

/// Puts jobs back on this instance's own queue, to be committed here.
async fn requeue_all(jobs: Vec<Job>, requeue: &mpsc::WeakSender<Job>, counters: &Counters) {
    counters.committed_locally_after_failure.fetch_add(jobs.len() as u64, Ordering::Relaxed);
    metrics::counter!("aex_ledger_handoff_fallbacks_total").increment(jobs.len() as u64);
    let Some(queue) = requeue.upgrade() else { return };
    for mut job in jobs {
        job.local = true;
        // A closed queue drops the job, and its caller is told the ledger is shutting down.
        let _ = queue.send(job).await;
    }
}

impl From<Result<Vec<TransferOutcome>, JobFailure>> for JobResult {
    fn from(result: Result<Vec<TransferOutcome>, JobFailure>) -> Self {
        match result {
            Ok(outcomes) => JobResult::Committed { outcomes },
            Err(JobFailure::Refused) => JobResult::Refused,
            Err(JobFailure::Unavailable) => JobResult::Unavailable,
        }
    }
}
