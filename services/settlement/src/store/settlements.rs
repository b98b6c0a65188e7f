//! Contract escrow records: held at award, then settled or released exactly once.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

#[derive(Debug, Clone, sqlx::FromRow, PartialEq, Eq)]
pub struct SettlementRow {
    pub contract_id: String,
    pub work_id: Option<String>,
    pub category: Option<String>,
    pub consumer_tenant_id: String,
    pub provider_tenant_id: String,
    pub provider_id: String,
    pub currency: String,
    pub price_minor: i64,
    pub hold_transfer_id: String,
    pub status: String,
    pub fee_policy_version: Option<String>,
    pub tier: Option<String>,
    pub volume_30d_minor: Option<i64>,
    pub platform_fee_minor: Option<i64>,
    pub protocol_fee_minor: Option<i64>,
    pub payout_minor: Option<i64>,
    pub journal_seq: Option<i64>,
    pub release_reason: Option<String>,
    pub held_at: OffsetDateTime,
    pub settled_at: Option<OffsetDateTime>,
    pub released_at: Option<OffsetDateTime>,
}

const SELECT: &str =
    "SELECT contract_id, work_id, category, consumer_tenant_id, provider_tenant_id, provider_id, currency,
        price_minor, hold_transfer_id, status, fee_policy_version, tier, volume_30d_minor, platform_fee_minor,
        protocol_fee_minor, payout_minor, journal_seq, release_reason, held_at, settled_at, released_at
        FROM settlements";

/// What is recorded when a hold is placed.
#[derive(Debug, Clone)]
pub struct NewHold {
    pub contract_id: String,
    pub work_id: Option<String>,
    pub category: Option<String>,
    pub consumer_tenant_id: String,
    pub provider_tenant_id: String,
    pub provider_id: String,
    pub currency: String,
    pub price_minor: i64,
    pub hold_transfer_id: String,
}

pub async fn insert_held(conn: &mut PgConnection, hold: &NewHold) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO settlements (contract_id, work_id, category, consumer_tenant_id, provider_tenant_id, provider_id,
                                  currency, price_minor, hold_transfer_id, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'HELD')",
    )
    .bind(&hold.contract_id)
    .bind(&hold.work_id)
    .bind(&hold.category)
    .bind(&hold.consumer_tenant_id)
    .bind(&hold.provider_tenant_id)
    .bind(&hold.provider_id)
    .bind(&hold.currency)
    .bind(hold.price_minor)
    .bind(&hold.hold_transfer_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(pool: &PgPool, contract_id: &str) -> Result<Option<SettlementRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE contract_id = $1")))
        .bind(contract_id)
        .fetch_optional(pool)
        .await
}

/// The fee split recorded at payout.
#[derive(Debug, Clone)]
pub struct Payout {
    pub fee_policy_version: String,
    pub tier: String,
    pub volume_30d_minor: i64,
    pub platform_fee_minor: i64,
    pub protocol_fee_minor: i64,
    pub payout_minor: i64,
    pub journal_seq: i64,
}

/// HELD → SETTLED; false when the row was not held any more.
pub async fn mark_settled(conn: &mut PgConnection, contract_id: &str, payout: &Payout) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE settlements SET status = 'SETTLED', fee_policy_version = $2, tier = $3, volume_30d_minor = $4,
                platform_fee_minor = $5, protocol_fee_minor = $6, payout_minor = $7, journal_seq = $8, settled_at = now()
         WHERE contract_id = $1 AND status = 'HELD'",
    )
    .bind(contract_id)
    .bind(&payout.fee_policy_version)
    .bind(&payout.tier)
    .bind(payout.volume_30d_minor)
    .bind(payout.platform_fee_minor)
    .bind(payout.protocol_fee_minor)
    .bind(payout.payout_minor)
    .bind(payout.journal_seq)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// HELD → RELEASED; false when the row was not held any more.
pub async fn mark_released(
    conn: &mut PgConnection,
    contract_id: &str,
    reason: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE settlements SET status = 'RELEASED', release_reason = $2, released_at = now()
         WHERE contract_id = $1 AND status = 'HELD'",
    )
    .bind(contract_id)
    .bind(reason)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// The provider's settled gross in `currency` in the 30 days before now, `excluding` one contract.
pub async fn provider_volume_30d(
    pool: &PgPool,
    provider_id: &str,
    currency: &str,
    excluding: &str,
) -> Result<i64, sqlx::Error> {
    let volume: Option<i64> = sqlx::query_scalar(
        "SELECT sum(price_minor)::bigint FROM settlements
         WHERE provider_id = $1 AND currency = $2 AND status = 'SETTLED'
           AND settled_at > now() - interval '30 days' AND contract_id <> $3",
    )
    .bind(provider_id)
    .bind(currency)
    .bind(excluding)
    .fetch_one(pool)
    .await?;
    Ok(volume.unwrap_or(0))
}
