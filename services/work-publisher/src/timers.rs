//! The durable bid-window timer. Deadlines live in the `work` table, so a restart loses none:
//! whichever replica's [`BidWindowCloser`] polls next closes every overdue window. Each close
//! is one transaction — `FOR UPDATE SKIP LOCKED` claim, `OPEN → EVALUATING` guarded by status,
//! and the `work.bid_window_closed` outbox row — so a window closes exactly once however many
//! closers run.

use crate::error::Result;
use crate::service::SOURCE;
use crate::store::work::{self, WorkRow};
use aex_api::events as subjects;
use aex_common::events::outbox::{self, NewEvent};
use aex_types::Money;
use sqlx::PgPool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Windows closed per transaction.
const BATCH: i64 = 100;

/// Closes due bid windows until shutdown.
#[derive(Debug, Clone)]
pub struct BidWindowCloser {
    pool: PgPool,
    /// Longest sleep between polls; the closer also wakes at the next known deadline.
    poll: Duration,
}

impl BidWindowCloser {
    pub fn new(pool: PgPool, poll: Duration) -> Self {
        Self { pool, poll }
    }

    /// Closes every window that is due now; returns the work closed by this call.
    pub async fn close_due(&self) -> Result<Vec<WorkRow>> {
        let mut closed = Vec::new();
        loop {
            let mut tx = self.pool.begin().await?;
            let batch = work::close_due_windows(&mut tx, BATCH).await?;
            for (row, bid_count) in &batch {
                let currency = row.currency;
                let data = subjects::WorkBidWindowClosed {
                    work_id: row.id.clone(),
                    consumer_tenant_id: row.tenant_id.clone(),
                    category: row.category.clone(),
                    currency: currency.code().to_string(),
                    max_price: Money::from_minor(row.max_price_minor, currency).to_decimal_string(),
                    max_price_minor: row.max_price_minor,
                    max_cpa_bonus_minor: row.max_cpa_bonus_minor,
                    bid_strategy: row.bid_strategy.clone(),
                    constraints: row.constraints.clone(),
                    auto_award: row.auto_award,
                    bid_count: *bid_count,
                    closed_at: row.closed_at.map(|t| t.to_string()).unwrap_or_default(),
                };
                let event = NewEvent::new(subjects::WORK_BID_WINDOW_CLOSED, &data).tenant(&row.tenant_id);
                outbox::enqueue(&mut tx, SOURCE, event).await?;
                let lag_ms = row.closed_at.map(|c| c.unix_millis() - row.bid_window_ends_at.unix_millis()).unwrap_or(0);
                metrics::histogram!("aex_bid_window_close_lag_ms").record(lag_ms as f64);
            }
            tx.commit().await?;
            let full = batch.len() as i64 == BATCH;
            closed.extend(batch.into_iter().map(|(row, _)| row));
            if !full {
                return Ok(closed);
            }
        }
    }

    /// Polls until `shutdown`; errors are logged and retried on the next tick.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(task = "bid-window-closer", "started");
        loop {
            let mut sleep = self.poll;
            match self.close_due().await {
                Ok(closed) => {
                    for row in &closed {
                        tracing::info!(task = "bid-window-closer", work_id = %row.id, "bid window closed");
                    }
                    if let Ok(Some(next_ms)) = work::next_deadline_in_ms(&self.pool).await {
                        let next = Duration::from_millis(u64::try_from(next_ms.max(1)).unwrap_or(1));
                        sleep = sleep.min(next);
                    }
                }
                Err(error) => tracing::warn!(task = "bid-window-closer", %error, "closing bid windows failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(sleep) => {}
            }
        }
        tracing::info!(task = "bid-window-closer", "stopped");
    }
}

/// The contract deadline timer and the award reconciler: expires overdue contracts (waking at
/// the next deadline, like the bid-window closer) and, every `reconcile_every`, finishes or
/// abandons awards that were interrupted between their two steps.
#[derive(Debug, Clone)]
pub struct ContractKeeper {
    awards: crate::contracts::Awards,
    poll: Duration,
    reconcile_every: Duration,
}

impl ContractKeeper {
    pub fn new(awards: crate::contracts::Awards, poll: Duration, reconcile_every: Duration) -> Self {
        Self { awards, poll, reconcile_every }
    }

    /// Polls until `shutdown`; errors are logged and retried on the next tick.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(task = "contract-keeper", "started");
        let mut last_reconcile = tokio::time::Instant::now();
        loop {
            let mut sleep = self.poll;
            match crate::contracts::expire_due(&self.awards.pool).await {
                Ok(expired) => {
                    for row in &expired {
                        tracing::info!(task = "contract-keeper", contract_id = %row.id, "contract expired");
                    }
                    if let Ok(Some(next_ms)) = crate::store::contracts::next_deadline_in_ms(&self.awards.pool).await {
                        sleep = sleep.min(Duration::from_millis(u64::try_from(next_ms.max(1)).unwrap_or(1)));
                    }
                }
                Err(error) => tracing::warn!(task = "contract-keeper", %error, "expiring contracts failed"),
            }
            if last_reconcile.elapsed() >= self.reconcile_every {
                last_reconcile = tokio::time::Instant::now();
                match self.awards.reconcile().await {
                    Ok(0) => {}
                    Ok(resolved) => tracing::info!(task = "contract-keeper", resolved, "interrupted awards resolved"),
                    Err(error) => tracing::warn!(task = "contract-keeper", %error, "reconciling awards failed"),
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(sleep) => {}
            }
        }
        tracing::info!(task = "contract-keeper", "stopped");
    }
}
