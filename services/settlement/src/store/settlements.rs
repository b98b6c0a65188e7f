//! Contract escrow records: held at award, then settled or released exactly once.

use crate::domain::escrow::SettlementStatus;
use aex_types::{Currency, Timestamp};
use sqlx::postgres::{PgTypeInfo, PgValueRef, Postgres};
use sqlx::{Decode, PgConnection, PgPool, Type};

/// Read from its `text` column; a value that is not one of the statuses fails the query.
impl Type<Postgres> for SettlementStatus {
    fn type_info() -> PgTypeInfo {
        <str as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <str as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for SettlementStatus {
    fn decode(value: PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <&str as Decode<Postgres>>::decode(value)?;
        SettlementStatus::parse(text).ok_or_else(|| format!("unknown settlement status {text:?}").into())
    }
}

#[derive(Debug, Clone, sqlx::FromRow, PartialEq, Eq)]
pub struct SettlementRow {
    pub contract_id: String,
    pub work_id: Option<String>,
    pub category: Option<String>,
    pub consumer_tenant_id: String,
    pub provider_tenant_id: String,
    pub provider_id: String,
    pub currency: Currency,
    pub price_minor: i64,
    pub hold_transfer_id: String,
    pub status: SettlementStatus,
    pub fee_policy_version: Option<String>,
    pub tier: Option<String>,
    pub volume_30d_minor: Option<i64>,
    pub platform_fee_minor: Option<i64>,
    pub protocol_fee_minor: Option<i64>,
    pub payout_minor: Option<i64>,
    pub journal_seq: Option<i64>,
    pub release_reason: Option<String>,
    pub held_at: Timestamp,
    pub settled_at: Option<Timestamp>,
    pub released_at: Option<Timestamp>,
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
    pub currency: Currency,
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
    .bind(hold.currency)
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
    currency: Currency,
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

/// A provider's settled deals, newest first.
pub async fn settled_for_provider(
    pool: &PgPool,
    provider_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<SettlementRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE provider_id = $1 AND status = 'SETTLED' ORDER BY settled_at DESC, contract_id LIMIT $2 OFFSET $3"
    )))
    .bind(provider_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

/// The tenant that receives a provider's payouts, if it has any escrow on record.
pub async fn provider_tenant(pool: &PgPool, provider_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT provider_tenant_id FROM settlements WHERE provider_id = $1 LIMIT 1")
        .bind(provider_id)
        .fetch_optional(pool)
        .await
}

/// Totals of a provider's settled deals: (deals, gross, platform fees, protocol fees, payout).
pub async fn provider_totals(pool: &PgPool, provider_id: &str) -> Result<(i64, i64, i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), COALESCE(sum(price_minor), 0)::bigint, COALESCE(sum(platform_fee_minor), 0)::bigint,
                COALESCE(sum(protocol_fee_minor), 0)::bigint, COALESCE(sum(payout_minor), 0)::bigint
         FROM settlements WHERE provider_id = $1 AND status = 'SETTLED'",
    )
    .bind(provider_id)
    .fetch_one(pool)
    .await
}

/// One line of the market feed.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct MarketLine {
    pub category: String,
    pub currency: Currency,
    pub deals: i64,
    pub volume_minor: i64,
    pub median_price_minor: i64,
}

/// Per category and currency: settled deals, volume and median price over settlements between
/// `window_hours + delay_hours` and `delay_hours` ago; groups with fewer than `k` deals left out.
pub async fn market_lines(
    pool: &PgPool,
    delay_hours: i32,
    window_hours: i32,
    k: i64,
) -> Result<Vec<MarketLine>, sqlx::Error> {
    sqlx::query_as(
        "SELECT category, currency, count(*) AS deals, sum(price_minor)::bigint AS volume_minor,
                percentile_disc(0.5) WITHIN GROUP (ORDER BY price_minor) AS median_price_minor
         FROM settlements
         WHERE status = 'SETTLED' AND category IS NOT NULL
           AND settled_at <= now() - make_interval(hours => $1)
           AND settled_at > now() - make_interval(hours => $1 + $2)
         GROUP BY category, currency
         HAVING count(*) >= $3
         ORDER BY category, currency",
    )
    .bind(delay_hours)
    .bind(window_hours)
    .bind(k)
    .fetch_all(pool)
    .await
}

/// A tenant's escrow as consumer and as provider: (held, settled as consumer, spent, settled as
/// provider, earned).
pub async fn usage(pool: &PgPool, tenant_id: &str) -> Result<(i64, i64, i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE consumer_tenant_id = $1 AND status = 'HELD'),
                count(*) FILTER (WHERE consumer_tenant_id = $1 AND status = 'SETTLED'),
                COALESCE(sum(price_minor) FILTER (WHERE consumer_tenant_id = $1 AND status = 'SETTLED'), 0)::bigint,
                count(*) FILTER (WHERE provider_tenant_id = $1 AND status = 'SETTLED'),
                COALESCE(sum(payout_minor) FILTER (WHERE provider_tenant_id = $1 AND status = 'SETTLED'), 0)::bigint
         FROM settlements WHERE consumer_tenant_id = $1 OR provider_tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_one(pool)
    .await
}
