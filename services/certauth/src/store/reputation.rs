//! Reputation snapshots (one per provider, rewritten on every recompute), the leaderboard,
//! and the certified capabilities a recompute counts.

use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SnapshotRow {
    pub provider_id: String,
    pub provider_tenant_id: Option<String>,
    pub score: f64,
    pub trust_score: f64,
    pub transaction_score: f64,
    pub success_rate: f64,
    pub volume: f64,
    pub consistency: f64,
    pub certification: f64,
    pub tier: String,
    pub flags: Vec<String>,
    pub contracts: i32,
    pub successes: i32,
    pub certified_capabilities: Json<Vec<Capability>>,
    pub certification_expires_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
}

/// One certified (category, capability) pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct Capability {
    pub category: String,
    pub capability: String,
}

const COLUMNS: &str = "provider_id, provider_tenant_id, score, trust_score, transaction_score, success_rate, volume, \
                       consistency, certification, tier, flags, contracts, successes, certified_capabilities, \
                       certification_expires_at, updated_at";

/// Serializes recomputes of one provider until the transaction ends, so the last snapshot
/// written always saw every committed outcome (READ COMMITTED reads after the lock).
pub async fn lock_provider(conn: &mut PgConnection, provider_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('certauth.reputation:' || $1, 0))")
        .bind(provider_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get_in(conn: &mut PgConnection, provider_id: &str) -> Result<Option<SnapshotRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM reputation_snapshots WHERE provider_id = $1")))
        .bind(provider_id)
        .fetch_optional(conn)
        .await
}

pub async fn get(pool: &PgPool, provider_id: &str) -> Result<Option<SnapshotRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM reputation_snapshots WHERE provider_id = $1")))
        .bind(provider_id)
        .fetch_optional(pool)
        .await
}

/// The snapshots of `provider_ids` that exist.
pub async fn get_many(pool: &PgPool, provider_ids: &[String]) -> Result<Vec<SnapshotRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM reputation_snapshots WHERE provider_id = ANY($1)"
    )))
    .bind(provider_ids)
    .fetch_all(pool)
    .await
}

pub async fn upsert(conn: &mut PgConnection, row: &SnapshotRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reputation_snapshots
             (provider_id, provider_tenant_id, score, trust_score, transaction_score, success_rate, volume,
              consistency, certification, tier, flags, contracts, successes, certified_capabilities,
              certification_expires_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT ON CONSTRAINT reputation_snapshots_pkey DO UPDATE SET
             provider_tenant_id = COALESCE(EXCLUDED.provider_tenant_id, reputation_snapshots.provider_tenant_id),
             score = EXCLUDED.score, trust_score = EXCLUDED.trust_score,
             transaction_score = EXCLUDED.transaction_score, success_rate = EXCLUDED.success_rate,
             volume = EXCLUDED.volume, consistency = EXCLUDED.consistency,
             certification = EXCLUDED.certification, tier = EXCLUDED.tier, flags = EXCLUDED.flags,
             contracts = EXCLUDED.contracts, successes = EXCLUDED.successes,
             certified_capabilities = EXCLUDED.certified_capabilities,
             certification_expires_at = EXCLUDED.certification_expires_at, updated_at = EXCLUDED.updated_at",
    )
    .bind(&row.provider_id)
    .bind(&row.provider_tenant_id)
    .bind(row.score)
    .bind(row.trust_score)
    .bind(row.transaction_score)
    .bind(row.success_rate)
    .bind(row.volume)
    .bind(row.consistency)
    .bind(row.certification)
    .bind(&row.tier)
    .bind(&row.flags)
    .bind(row.contracts)
    .bind(row.successes)
    .bind(&row.certified_capabilities)
    .bind(row.certification_expires_at)
    .bind(row.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// One page of the leaderboard (score, then contracts, descending; then provider id) and the
/// number of ranked providers.
pub async fn leaderboard(pool: &PgPool, limit: i64, offset: i64) -> Result<(Vec<SnapshotRow>, i64), sqlx::Error> {
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM reputation_snapshots
         ORDER BY score DESC, contracts DESC, provider_id LIMIT $1 OFFSET $2"
    )))
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total = sqlx::query_scalar("SELECT count(*) FROM reputation_snapshots").fetch_one(pool).await?;
    Ok((rows, total))
}

/// Distinct capabilities granted by the provider's valid certificates as of this transaction:
/// ACTIVE, inside their validity window, signed by a CA key version that is not revoked.
pub async fn certified_capabilities(
    conn: &mut PgConnection,
    provider_id: &str,
) -> Result<Vec<Capability>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT claim->>'category' AS category, claim->>'capability' AS capability
         FROM certificates c
         JOIN ca_keys k ON k.version = c.key_version
         CROSS JOIN LATERAL jsonb_array_elements(c.claims) AS claim
         WHERE c.provider_id = $1 AND c.status = 'ACTIVE' AND k.status <> 'revoked'
           AND c.not_before <= now() AND c.not_after > now()
           AND claim ? 'category' AND claim ? 'capability'
         ORDER BY 1, 2",
    )
    .bind(provider_id)
    .fetch_all(conn)
    .await
}

/// When the first of the provider's valid certificates expires (see `certified_capabilities`).
pub async fn next_certificate_expiry(
    conn: &mut PgConnection,
    provider_id: &str,
) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT min(c.not_after) FROM certificates c JOIN ca_keys k ON k.version = c.key_version
         WHERE c.provider_id = $1 AND c.status = 'ACTIVE' AND k.status <> 'revoked'
           AND c.not_before <= now() AND c.not_after > now()",
    )
    .bind(provider_id)
    .fetch_one(conn)
    .await
}

/// Providers whose snapshot is stale: a counted certificate expired, or a day passed since a
/// snapshot with contracts was computed (trust decays by whole days). Oldest first.
pub async fn due_for_refresh(pool: &PgPool, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT provider_id FROM (
             SELECT provider_id, updated_at FROM reputation_snapshots WHERE certification_expires_at <= now()
             UNION
             SELECT provider_id, updated_at FROM reputation_snapshots
             WHERE contracts > 0 AND updated_at < now() - interval '1 day'
         ) due ORDER BY updated_at, provider_id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The tenant that owns a provider id in certauth, if any tenant requested a certificate for it.
pub async fn owner_tenant(conn: &mut PgConnection, provider_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT tenant_id FROM provider_owners WHERE provider_id = $1")
        .bind(provider_id)
        .fetch_optional(conn)
        .await
}

/// Providers with an ACTIVE certificate signed by key `version` (their boost depends on it).
pub async fn providers_certified_by_key(conn: &mut PgConnection, version: i32) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT provider_id FROM certificates WHERE key_version = $1 AND status = 'ACTIVE' ORDER BY 1",
    )
    .bind(version)
    .fetch_all(conn)
    .await
}
