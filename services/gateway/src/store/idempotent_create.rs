//! The authoritative records of the gateway's own creates under an `Idempotency-Key`: claimed
//! before the tenant or key is created, completed with what was created, in one transaction.

use sqlx::{FromRow, PgConnection};

/// A committed record: what the first request with this key was and what it created.
#[derive(Debug, Clone, FromRow)]
pub struct CreateRecord {
    pub fingerprint: String,
    pub tenant_id: Option<String>,
    pub api_key_id: Option<String>,
}

/// Claims `(caller, scope)` for the current transaction. `false` when a committed record
/// holds it; while another transaction holds an uncommitted claim this waits for it to end.
pub async fn claim(
    conn: &mut PgConnection,
    caller_tenant_id: &str,
    scope: &str,
    route: &str,
    fingerprint: &str,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "INSERT INTO idempotent_creates (caller_tenant_id, scope, route, fingerprint) VALUES ($1, $2, $3, $4) \
         ON CONFLICT ON CONSTRAINT idempotent_creates_pkey DO NOTHING",
    )
    .bind(caller_tenant_id)
    .bind(scope)
    .bind(route)
    .bind(fingerprint)
    .execute(conn)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Records what the claiming request created.
pub async fn complete(
    conn: &mut PgConnection,
    caller_tenant_id: &str,
    scope: &str,
    tenant_id: &str,
    api_key_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotent_creates SET tenant_id = $3, api_key_id = $4 WHERE caller_tenant_id = $1 AND scope = $2",
    )
    .bind(caller_tenant_id)
    .bind(scope)
    .bind(tenant_id)
    .bind(api_key_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find(
    conn: &mut PgConnection,
    caller_tenant_id: &str,
    scope: &str,
) -> Result<Option<CreateRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT fingerprint, tenant_id, api_key_id FROM idempotent_creates WHERE caller_tenant_id = $1 AND scope = $2",
    )
    .bind(caller_tenant_id)
    .bind(scope)
    .fetch_optional(conn)
    .await
}
