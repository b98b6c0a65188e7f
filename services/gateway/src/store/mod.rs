//! SQL of the gateway schema, one file per aggregate. Changes that credential caches must see
//! at once (a key created, rotated or revoked, a tenant suspended) send
//! `NOTIFY aex_gateway_credentials` in the same transaction.

pub mod api_key;
pub mod idempotent_create;
pub mod tenant;

use sqlx::PgConnection;

/// The channel every gateway replica listens on to evict cached credentials.
pub const CREDENTIALS_CHANNEL: &str = "aex_gateway_credentials";

/// Tells every replica (at commit) to drop cached credentials matching `payload` — a key hash
/// or a tenant id — and a remembered miss of a key hash.
pub async fn notify_credentials_changed(conn: &mut PgConnection, payload: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify('aex_gateway_credentials', $1)").bind(payload).execute(conn).await.map(|_| ())
}
