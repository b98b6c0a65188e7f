//! The outbox relay: publishes committed outbox rows to JetStream, in order, exactly once in
//! effect.
//!
//! A relay claims a batch of unpublished rows with `FOR UPDATE SKIP LOCKED` and a lease
//! (`claim_token`, `claim_expires_at`), publishes them with `Nats-Msg-Id = event_id`, awaits
//! every ack, then marks the rows published — but only rows it still holds the lease on, so a
//! stalled relay whose lease was taken over cannot overwrite the newer claimer (fencing). A
//! relay that dies between publishing and marking leaves its rows to be claimed again when the
//! lease expires; JetStream drops the re-published copies as duplicates of the same message id.
//! It wakes on `LISTEN/NOTIFY`, with polling as a fallback, and backs off with jitter on failure.
//!
//! NATS is a transport; the outbox is the record (ARCHITECTURE.md §5 rule 3). A reconciliation
//! pass checks each published row once, some seconds after its publication: the message at its
//! `stream_seq` must carry `Nats-Msg-Id = event_id`. A row whose message the stream does not hold
//! (lost with a server's disk, purged, deleted) is queued again and re-published; consumers'
//! inboxes make a second delivery harmless.

use super::{EventBus, EventError};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::stream::{RawMessageErrorKind, Stream};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Tuning of the relay; `Default` suits production.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub batch_size: i64,
    /// How long a claim is exclusive; a relay that has not marked its rows by then is presumed dead.
    pub claim_ttl: Duration,
    /// Polling fallback when no notification arrives.
    pub poll_interval: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Published rows older than this are deleted.
    pub retention: Duration,
    /// A published row is checked against its stream once it is this old.
    pub reconcile_after: Duration,
    /// How often a reconciliation pass runs.
    pub reconcile_every: Duration,
    /// Rows checked per pass at most.
    pub reconcile_batch: i64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch_size: 256,
            claim_ttl: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            retention: Duration::from_secs(7 * 24 * 60 * 60),
            reconcile_after: Duration::from_secs(10),
            reconcile_every: Duration::from_secs(30),
            reconcile_batch: 1_000,
        }
    }
}

/// One outbox row held under this relay's lease.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedRow {
    pub id: i64,
    pub event_id: String,
    pub subject: String,
    pub payload: Vec<u8>,
    pub traceparent: Option<String>,
    pub republished: i32,
}

/// The `Nats-Msg-Id` of a row's publication: its event id, suffixed after a re-queue so the
/// stream's duplicate window cannot drop the new copy.
pub fn message_id(event_id: &str, republished: i32) -> String {
    if republished == 0 { event_id.to_string() } else { format!("{event_id}.r{republished}") }
}

/// A batch claimed by one relay, identified by its lease token.
#[derive(Debug)]
pub struct Claim {
    pub token: String,
    pub rows: Vec<ClaimedRow>,
}

/// What happened to a claim.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PublishOutcome {
    /// Rows acknowledged by JetStream, with their stream sequence.
    pub acked: Vec<(i64, u64)>,
    /// The first failure, if any; rows from it on were not published.
    pub error: Option<String>,
}

/// What one reconciliation pass found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Rows whose message the stream holds.
    pub verified: usize,
    /// Rows whose message the stream lacks, queued to be published again.
    pub requeued: usize,
}

/// Publishes one schema's outbox.
#[derive(Debug, Clone)]
pub struct OutboxRelay {
    pool: PgPool,
    bus: EventBus,
    schema: String,
    config: RelayConfig,
    relay_id: String,
}

impl OutboxRelay {
    pub fn new(pool: PgPool, bus: EventBus, schema: &str, config: RelayConfig) -> Self {
        let relay_id = format!("relay-{:016x}", fastrand::u64(..));
        Self { pool, bus, schema: schema.to_string(), config, relay_id }
    }

    /// The NOTIFY channel the outbox trigger signals on.
    pub fn channel(&self) -> String {
        format!("aex_outbox_{}", self.schema)
    }

    /// Runs until `shutdown`, then makes one last attempt to flush what is pending.
    pub async fn run(self, shutdown: CancellationToken) {
        let task = format!("outbox-relay:{}", self.schema);
        tracing::info!(task = %task, relay_id = %self.relay_id, "relay started");
        let mut listener = self.listen().await;
        let mut failures = 0u32;
        let mut streams_ready = false;
        let mut last_cleanup = Instant::now();
        let mut last_reconcile = Instant::now();
        let mut last_lag_sample: Option<Instant> = None;
        loop {
            if !streams_ready {
                match self.bus.ensure_streams().await {
                    Ok(()) => streams_ready = true,
                    Err(error) => tracing::warn!(task = %task, %error, "streams not ready"),
                }
            }
            let wait = match self.drain().await {
                Ok(_) => {
                    failures = 0;
                    self.config.poll_interval
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    metrics::counter!("aex_outbox_publish_errors_total", "schema" => self.schema.clone()).increment(1);
                    tracing::warn!(task = %task, %error, failures, "relay cycle failed");
                    streams_ready = false;
                    self.backoff(failures)
                }
            };
            // Wake-ups follow every commit under load; the lag gauge needs a sample a second.
            if last_lag_sample.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                last_lag_sample = Some(Instant::now());
                self.record_lag().await;
            }
            if streams_ready && last_reconcile.elapsed() >= self.config.reconcile_every {
                last_reconcile = Instant::now();
                match self.reconcile().await {
                    Ok(Reconciled { requeued: 0, .. }) => {}
                    Ok(Reconciled { requeued, .. }) => {
                        tracing::warn!(task = %task, requeued, "published events missing from their stream; re-publishing");
                    }
                    Err(error) => tracing::warn!(task = %task, %error, "outbox reconciliation failed"),
                }
            }
            if last_cleanup.elapsed() > Duration::from_secs(3600) {
                last_cleanup = Instant::now();
                if let Err(error) = self.delete_expired().await {
                    tracing::warn!(task = %task, %error, "outbox retention cleanup failed");
                }
            }
            if listener.is_none() {
                listener = self.listen().await;
            }
            let notified = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait) => {},
                result = notified => {
                    if result.is_err() {
                        listener = None;
                    }
                }
            }
        }
        if let Err(error) = tokio::time::timeout(Duration::from_secs(5), self.drain()).await {
            tracing::warn!(task = %task, %error, "final outbox flush timed out");
        }
        tracing::info!(task = %task, "relay stopped");
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await.ok()?;
        listener.listen(&self.channel()).await.ok()?;
        Some(listener)
    }

    fn backoff(&self, failures: u32) -> Duration {
        let exp = self.config.backoff_base.saturating_mul(2u32.saturating_pow(failures.min(16)));
        let capped = exp.min(self.config.backoff_max);
        // Full jitter keeps several relays from retrying in lock step.
        let millis = u64::try_from(capped.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(millis / 2..=millis.max(1)))
    }

    /// Publishes until nothing is pending; returns how many rows were published.
    pub async fn drain(&self) -> Result<usize, EventError> {
        let mut total = 0;
        loop {
            let claim = self.claim().await?;
            if claim.rows.is_empty() {
                return Ok(total);
            }
            let full = claim.rows.len() as i64 >= self.config.batch_size;
            let outcome = self.publish(&claim).await;
            total += self.mark(&claim, &outcome).await?;
            if let Some(error) = outcome.error {
                return Err(EventError::Publish { subject: "outbox".into(), message: error });
            }
            if !full {
                return Ok(total);
            }
        }
    }

    /// Claims the oldest unpublished rows that no live lease holds.
    pub async fn claim(&self) -> Result<Claim, EventError> {
        let token = format!("{}-{:016x}", self.relay_id, fastrand::u64(..));
        let ttl_ms = i64::try_from(self.config.claim_ttl.as_millis()).unwrap_or(i64::MAX);
        let mut rows: Vec<ClaimedRow> = sqlx::query_as(
            "WITH next AS (
                 SELECT id FROM outbox
                 WHERE published_at IS NULL
                   AND (claim_expires_at IS NULL OR claim_expires_at < now())
                 ORDER BY id
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE outbox o
             SET claim_token = $2,
                 claim_expires_at = now() + $3 * interval '1 millisecond',
                 attempts = o.attempts + 1
             FROM next
             WHERE o.id = next.id
             RETURNING o.id, o.event_id, o.subject, o.payload, o.traceparent, o.republished",
        )
        .bind(self.config.batch_size)
        .bind(&token)
        .bind(ttl_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.sort_by_key(|r| r.id);
        Ok(Claim { token, rows })
    }

    /// Publishes a claim in order and awaits every ack; stops at the first failure.
    pub async fn publish(&self, claim: &Claim) -> PublishOutcome {
        let mut pending: Vec<(i64, PublishAckFuture)> = Vec::with_capacity(claim.rows.len());
        let mut outcome = PublishOutcome::default();
        for row in &claim.rows {
            let mut message = Publish::build()
                .payload(row.payload.clone().into())
                .message_id(message_id(&row.event_id, row.republished));
            if let Some(traceparent) = &row.traceparent {
                message = message.header("traceparent", traceparent.as_str());
            }
            match self.bus.jetstream().send_publish(self.bus.subject(&row.subject), message).await {
                Ok(ack) => pending.push((row.id, ack)),
                Err(error) => {
                    outcome.error = Some(format!("{}: {error}", row.subject));
                    break;
                }
            }
        }
        for (id, ack) in pending {
            match ack.await {
                Ok(ack) => outcome.acked.push((id, ack.sequence)),
                Err(error) => {
                    if outcome.error.is_none() {
                        outcome.error = Some(error.to_string());
                    }
                }
            }
        }
        outcome
    }

    /// Marks acknowledged rows published and releases the rest — only where this claim still
    /// holds the lease. Returns the number of rows marked.
    pub async fn mark(&self, claim: &Claim, outcome: &PublishOutcome) -> Result<usize, EventError> {
        let ids: Vec<i64> = outcome.acked.iter().map(|(id, _)| *id).collect();
        let seqs: Vec<i64> = outcome.acked.iter().map(|(_, seq)| i64::try_from(*seq).unwrap_or(i64::MAX)).collect();
        let mut tx = self.pool.begin().await?;
        let marked = sqlx::query(
            "UPDATE outbox o
             SET published_at = now(), stream_seq = u.seq, claim_token = NULL,
                 claim_expires_at = NULL, last_error = NULL
             FROM unnest($1::bigint[], $2::bigint[]) AS u(id, seq)
             WHERE o.id = u.id AND o.claim_token = $3",
        )
        .bind(&ids)
        .bind(&seqs)
        .bind(&claim.token)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE outbox SET claim_token = NULL, claim_expires_at = NULL, last_error = $2
             WHERE claim_token = $1 AND published_at IS NULL",
        )
        .bind(&claim.token)
        .bind(outcome.error.as_deref())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let marked = usize::try_from(marked).unwrap_or(usize::MAX);
        if marked < ids.len() {
            metrics::counter!("aex_outbox_fenced_total", "schema" => self.schema.clone())
                .increment((ids.len() - marked) as u64);
            tracing::warn!(schema = %self.schema, lost = ids.len() - marked, "lease lost before marking; another relay owns these rows");
        }
        metrics::counter!("aex_outbox_published_total", "schema" => self.schema.clone()).increment(marked as u64);
        Ok(marked)
    }

    /// Checks up to `reconcile_batch` published, unverified rows against their streams: rows
    /// the stream holds are marked verified, the others are queued for publishing again. Stops
    /// at the first error that is not "no such message" (NATS unavailable), keeping what it
    /// learnt so far.
    pub async fn reconcile(&self) -> Result<Reconciled, EventError> {
        let after_ms = i64::try_from(self.config.reconcile_after.as_millis()).unwrap_or(i64::MAX);
        let rows: Vec<(i64, String, String, Option<i64>, i32)> = sqlx::query_as(
            "SELECT id, event_id, subject, stream_seq, republished FROM outbox
             WHERE published_at IS NOT NULL AND verified_at IS NULL
               AND published_at < now() - $1 * interval '1 millisecond'
             ORDER BY published_at, id LIMIT $2",
        )
        .bind(after_ms)
        .bind(self.config.reconcile_batch)
        .fetch_all(&self.pool)
        .await?;
        let mut streams: HashMap<&'static str, Stream> = HashMap::new();
        let (mut verified, mut lost) = (Vec::new(), Vec::new());
        let mut failure = None;
        for (id, event_id, subject, seq, republished) in rows {
            // A subject outside the platform's streams was refused at publish; nothing to check.
            let Some(spec) = EventBus::stream_for(&subject) else {
                verified.push(id);
                continue;
            };
            let stream = match streams.get(spec.name) {
                Some(stream) => stream,
                None => match self.bus.jetstream().get_stream(self.bus.stream_name(spec.name)).await {
                    Ok(stream) => streams.entry(spec.name).or_insert(stream),
                    Err(error) => {
                        failure =
                            Some(EventError::Stream { stream: spec.name.to_string(), message: error.to_string() });
                        break;
                    }
                },
            };
            let Some(seq) = seq.and_then(|s| u64::try_from(s).ok()) else {
                lost.push(id);
                continue;
            };
            match stream.get_raw_message(seq).await {
                Ok(message) => {
                    let expected = message_id(&event_id, republished);
                    let held = message.headers.get("Nats-Msg-Id").map(|v| v.as_str()) == Some(expected.as_str());
                    if held { verified.push(id) } else { lost.push(id) }
                }
                Err(error) if matches!(error.kind(), RawMessageErrorKind::NoMessageFound) => lost.push(id),
                Err(error) => {
                    failure = Some(EventError::Stream { stream: spec.name.to_string(), message: error.to_string() });
                    break;
                }
            }
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE outbox SET verified_at = now() WHERE id = ANY($1)")
            .bind(&verified)
            .execute(&mut *tx)
            .await?;
        let requeued = sqlx::query(
            "UPDATE outbox SET published_at = NULL, stream_seq = NULL, republished = republished + 1,
                    last_error = 'missing from its stream'
             WHERE id = ANY($1) AND verified_at IS NULL AND published_at IS NOT NULL",
        )
        .bind(&lost)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        if requeued > 0 {
            metrics::counter!("aex_outbox_republished_total", "schema" => self.schema.clone()).increment(requeued);
        }
        match failure {
            Some(error) => Err(error),
            None => {
                Ok(Reconciled { verified: verified.len(), requeued: usize::try_from(requeued).unwrap_or(usize::MAX) })
            }
        }
    }

    async fn record_lag(&self) {
        let row: Result<(i64, Option<i64>), _> = sqlx::query_as(
            "SELECT count(*), (EXTRACT(EPOCH FROM now() - min(created_at)) * 1000)::bigint
             FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await;
        if let Ok((pending, lag)) = row {
            metrics::gauge!("aex_outbox_pending", "schema" => self.schema.clone()).set(pending as f64);
            metrics::gauge!("aex_outbox_lag_seconds", "schema" => self.schema.clone())
                .set(Duration::from_millis(u64::try_from(lag.unwrap_or(0)).unwrap_or(0)).as_secs_f64());
        }
    }

    async fn delete_expired(&self) -> Result<u64, EventError> {
        let retention_ms = i64::try_from(self.config.retention.as_millis()).unwrap_or(i64::MAX);
        let deleted = sqlx::query("DELETE FROM outbox WHERE published_at < now() - $1 * interval '1 millisecond'")
            .bind(retention_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted)
    }
}
