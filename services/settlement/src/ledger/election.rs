//! Which instance writes the ledger: a lease in Postgres (`ledger_writer`, ADR 0014).
//!
//! Every instance with an advertised address tries to hold the lease; the holder renews it
//! every third of its lifetime, the others read who holds it. The batcher consults the
//! current [`Role`]: the writer and a standalone instance commit their own batches, a follower
//! hands its batches to the writer ([`super::handoff`]). The lease never guards correctness —
//! every batch still locks the journal head, so two instances that both believe they write
//! (a lease that just moved) stay correct; the lease only makes the batches of all instances
//! merge into one instance's commits instead of queueing on each other's locks.

use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use url::Url;

/// This instance's part in writing the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// No live writer is known (no lease, the database out of reach, or this instance takes no
    /// part): commit locally.
    Standalone,
    /// This instance holds the lease: commit locally, and accept the others' batches.
    Writer,
    /// Another instance holds the lease: hand batches to it at `address`.
    Follower { writer: String, address: Url },
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Standalone => "standalone",
            Role::Writer => "writer",
            Role::Follower { .. } => "follower",
        }
    }
}

/// How this instance takes part in the election.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Random per process start, so a restarted instance is a new holder.
    pub instance: Arc<str>,
    /// Where the other instances reach this one; `None` takes no part (never writes for others,
    /// still follows a writer it finds).
    pub address: Option<Url>,
    /// Lifetime of the lease; renewed every third of it.
    pub lease: Duration,
}

impl Candidate {
    pub fn new(address: Option<Url>, lease: Duration) -> Self {
        let instance = aex_types::id::generate("ldw");
        Self { instance: Arc::from(instance), address, lease: lease.max(Duration::from_secs(1)) }
    }
}

/// Holds or follows the lease until `shutdown`, publishing the role on `role`. On shutdown a
/// holder gives the lease up, so the others take over at once instead of after its expiry.
pub async fn run(pool: PgPool, candidate: Candidate, role: watch::Sender<Role>, shutdown: CancellationToken) {
    tracing::info!(task = "ledger-election", instance = %candidate.instance, "started");
    let period = candidate.lease / 3;
    loop {
        let next = match observe(&pool, &candidate).await {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(task = "ledger-election", %error, "cannot read the ledger writer lease; committing locally");
                Role::Standalone
            }
        };
        metrics::gauge!("aex_ledger_writer").set(if next == Role::Writer { 1.0 } else { 0.0 });
        role.send_if_modified(|current| {
            if *current == next {
                return false;
            }
            tracing::info!(
                task = "ledger-election",
                from = current.as_str(),
                to = next.as_str(),
                "ledger role changed"
            );
            *current = next;
            true
        });
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(period) => {}
        }
    }
    role.send_replace(Role::Standalone);
    if candidate.address.is_some() {
        let released = sqlx::query("DELETE FROM ledger_writer WHERE holder = $1")
            .bind(candidate.instance.as_ref())
            .execute(&pool)
            .await;
        if let Err(error) = released {
            tracing::warn!(task = "ledger-election", %error, "could not give up the ledger writer lease; it lapses");
        }
    }
    tracing::info!(task = "ledger-election", "stopped");
}

/// Claims or renews the lease where this instance may, then reads who holds it.
async fn observe(pool: &PgPool, candidate: &Candidate) -> Result<Role, sqlx::Error> {
    let lease_ms = i64::try_from(candidate.lease.as_millis()).unwrap_or(i64::MAX);
    if let Some(address) = &candidate.address {
        sqlx::query(
            "INSERT INTO ledger_writer (singleton, holder, address, expires_at)
             VALUES (TRUE, $1, $2, now() + $3::bigint * INTERVAL '1 millisecond')
             ON CONFLICT (singleton) DO UPDATE
                SET holder = EXCLUDED.holder, address = EXCLUDED.address, expires_at = EXCLUDED.expires_at
              WHERE ledger_writer.holder = EXCLUDED.holder OR ledger_writer.expires_at < now()",
        )
        .bind(candidate.instance.as_ref())
        .bind(address.as_str())
        .bind(lease_ms)
        .execute(pool)
        .await?;
    }
    let holder: Option<(String, String)> =
        sqlx::query_as("SELECT holder, address FROM ledger_writer WHERE singleton AND expires_at > now()")
            .fetch_optional(pool)
            .await?;
    Ok(match holder {
        Some((holder, _)) if holder == candidate.instance.as_ref() => Role::Writer,
        Some((holder, address)) => match Url::parse(&address) {
            Ok(address) => Role::Follower { writer: holder, address },
            Err(_) => Role::Standalone,
        },
        None => Role::Standalone,
    })
}
