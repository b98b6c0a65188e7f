//! Which tenant owns a provider id: the first tenant to request a certificate for it.

use sqlx::PgConnection;

/// Records `tenant_id` as the owner of `provider_id` unless another tenant already is;
/// returns the owner.
pub async fn claim_owner(conn: &mut PgConnection, provider_id: &str, tenant_id: &str) -> Result<String, sqlx::Error> {
    sqlx::query(
        "INSERT INTO provider_owners (provider_id, tenant_id) VALUES ($1, $2) ON CONFLICT (provider_id) DO NOTHING",
    )
    .bind(provider_id)
    .bind(tenant_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar("SELECT tenant_id FROM provider_owners WHERE provider_id = $1")
        .bind(provider_id)
        .fetch_one(conn)
        .await
}
