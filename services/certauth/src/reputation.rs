//! Recomputing a provider's trust and reputation: one function, called inside the transaction
//! of whatever changed its evidence (an outcome or settlement event, a certificate issue,
//! renewal or revocation, a CA key revocation), so the snapshot and its events commit with it.

use crate::SERVICE;
use crate::domain::credential::rfc3339;
use crate::domain::reputation::{self, Evidence, Outcome, Tier};
use crate::error::Result;
use crate::store::outcomes;
use crate::store::reputation::{self as snapshots, SnapshotRow};
use aex_api::events::{self as subjects, ReputationComponents, ReputationUpdated, TrustScoreUpdated, TrustTierChanged};
use aex_common::events::outbox::{self, NewEvent};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// The event addressed to the provider's tenant, when certauth knows it.
fn addressed<'a, T>(event: NewEvent<'a, T>, tenant: Option<&'a str>) -> NewEvent<'a, T> {
    match tenant {
        Some(t) => event.tenant(t),
        None => event,
    }
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Recomputes `provider_id` from its evidence as this transaction sees it, writes the snapshot
/// and records `reputation.updated`, `trust.score_updated` and, when the tier moved,
/// `trust.tier_changed`. Serialized per provider (see `snapshots::lock_provider`).
pub async fn recompute(conn: &mut PgConnection, provider_id: &str) -> Result<SnapshotRow> {
    snapshots::lock_provider(conn, provider_id).await?;
    let previous = snapshots::get_in(conn, provider_id).await?;
    let rows = outcomes::recent(conn, provider_id).await?;
    let capabilities = snapshots::certified_capabilities(conn, provider_id).await?;
    let certification_expires_at = snapshots::next_certificate_expiry(conn, provider_id).await?;
    let provider_tenant_id = match rows.first() {
        Some(row) => Some(row.provider_tenant_id.clone()),
        None => snapshots::owner_tenant(conn, provider_id).await?,
    };
    let evidence: Vec<Outcome> = rows
        .into_iter()
        .map(|r| Outcome {
            success: r.success,
            occurred_at: r.occurred_at,
            consumer_tenant_id: r.consumer_tenant_id,
            provider_tenant_id: r.provider_tenant_id,
            price_minor: r.price_minor,
        })
        .collect();
    let now = OffsetDateTime::now_utc();
    let computed =
        reputation::reputation(Evidence { outcomes: &evidence, certified_capabilities: capabilities.len(), now });
    let c = computed.components;
    let row = SnapshotRow {
        provider_id: provider_id.to_string(),
        provider_tenant_id,
        score: computed.score,
        trust_score: c.transaction,
        transaction_score: c.transaction,
        success_rate: c.success_rate,
        volume: c.volume,
        consistency: c.consistency,
        certification: c.certification,
        tier: computed.tier.as_str().to_string(),
        flags: computed.flags.iter().map(|f| f.as_str().to_string()).collect(),
        contracts: count(computed.contracts),
        successes: count(computed.successes),
        certified_capabilities: Json(capabilities),
        certification_expires_at,
        updated_at: now,
    };
    snapshots::upsert(conn, &row).await?;

    let updated_at = rfc3339(now);
    let tenant = row.provider_tenant_id.clone();
    let tenant = tenant.as_deref();
    let updated = ReputationUpdated {
        provider_id: row.provider_id.clone(),
        provider_tenant_id: row.provider_tenant_id.clone(),
        score: row.score,
        tier: row.tier.clone(),
        components: ReputationComponents {
            transaction: c.transaction,
            success_rate: c.success_rate,
            volume: c.volume,
            consistency: c.consistency,
            certification: c.certification,
        },
        flags: row.flags.clone(),
        contracts: computed.contracts,
        successes: computed.successes,
        updated_at: updated_at.clone(),
    };
    outbox::enqueue(conn, SERVICE, addressed(NewEvent::new(subjects::REPUTATION_UPDATED, &updated), tenant)).await?;
    let trust = TrustScoreUpdated {
        provider_id: row.provider_id.clone(),
        trust_score: row.trust_score,
        previous_trust_score: previous.as_ref().map(|p| p.trust_score),
        contracts: computed.contracts,
        updated_at: updated_at.clone(),
    };
    outbox::enqueue(conn, SERVICE, addressed(NewEvent::new(subjects::TRUST_SCORE_UPDATED, &trust), tenant)).await?;
    let previous_tier = previous.as_ref().and_then(|p| Tier::parse(&p.tier));
    if previous_tier != Some(computed.tier) {
        let changed = TrustTierChanged {
            provider_id: row.provider_id.clone(),
            previous_tier: previous_tier.map(|t| t.as_str().to_string()),
            tier: row.tier.clone(),
            updated_at,
        };
        outbox::enqueue(conn, SERVICE, addressed(NewEvent::new(subjects::TRUST_TIER_CHANGED, &changed), tenant))
            .await?;
    }
    Ok(row)
}

/// Providers refreshed per tick of [`refresh_stale`], each in its own transaction.
const REFRESH_BATCH: i64 = 100;

/// Keeps snapshots true as time passes without events: recomputes a provider when one of its
/// counted certificates expires (its boost goes) and once a day while it has contracts (its
/// trust decays). Runs every `interval` until `shutdown`.
pub async fn refresh_stale(pool: PgPool, interval: Duration, shutdown: CancellationToken) {
    const TASK: &str = "reputation-refresher";
    tracing::info!(task = TASK, "started");
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
        match refresh_due(&pool).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(task = TASK, refreshed = n, "stale reputation snapshots recomputed"),
            Err(error) => tracing::warn!(task = TASK, %error, "refresh failed; retrying next tick"),
        }
    }
    tracing::info!(task = TASK, "stopped");
}

async fn refresh_due(pool: &PgPool) -> Result<usize> {
    let due = snapshots::due_for_refresh(pool, REFRESH_BATCH).await?;
    for provider_id in &due {
        let mut tx = pool.begin().await?;
        recompute(&mut tx, provider_id).await?;
        tx.commit().await?;
    }
    Ok(due.len())
}
