//! The operator's first credentials. With `AEX_ADMIN_API_KEY` (production, from a secret) that
//! key is stored, hashed, if absent. With `AEX_ADMIN_KEY_FILE` (local stack) a key is generated
//! and written to the file (mode 0600) when the operator has no key yet. Both happen under a
//! transaction-scoped advisory lock, and the unique index on the operator tenant backs it, so
//! across restarts and concurrently starting replicas the key is created exactly once.

use crate::config::IdentityArgs;
use crate::domain::api_key::PlaintextKey;
use crate::domain::scope;
use crate::domain::tenant::{NewTenant, TenantType};
use crate::error::Error;
use crate::service::{self, KeyRequest};
use crate::store;
use aex_types::TenantId;
use sqlx::{PgConnection, PgPool};
use std::io::Write;
use std::path::Path;

/// Why the operator could not be set up; the gateway does not start.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("AEX_ADMIN_API_KEY must be aexk_ followed by 64 lower-case hex characters")]
    MalformedProvidedKey,
    #[error("cannot write the operator key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("operator bootstrap: {0}")]
    Store(#[from] Error),
}

impl From<sqlx::Error> for BootstrapError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(Error::Database(error))
    }
}

fn operator_scopes() -> Vec<String> {
    vec![scope::ADMIN.to_string(), scope::ANY.to_string()]
}

pub async fn ensure_operator(pool: &PgPool, args: &IdentityArgs) -> Result<(), BootstrapError> {
    let provided = match &args.admin_api_key {
        Some(secret) => Some(PlaintextKey::parse(secret.expose().trim()).ok_or(BootstrapError::MalformedProvidedKey)?),
        None => None,
    };
    if provided.is_none() && args.admin_key_file.is_none() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    // Per schema, so test schemas side by side do not wait for each other.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.operator_bootstrap'))")
        .execute(&mut *tx)
        .await?;
    let operator = operator_tenant(&mut tx).await?;
    if let Some(key) = &provided
        && !store::api_key::exists_with_hash(&mut tx, &key.hash()).await?
    {
        let scopes = operator_scopes();
        insert_provided(&mut tx, &operator, key, &scopes).await?;
        tracing::info!(tenant_id = %operator, "operator API key from AEX_ADMIN_API_KEY stored");
    }
    if let Some(path) = &args.admin_key_file {
        if store::api_key::tenant_has_keys(&mut tx, &operator).await? {
            if !path.exists() {
                tracing::warn!(path = %path.display(), "an operator key already exists; the key file is not written again");
            }
        } else {
            let scopes = operator_scopes();
            let request = KeyRequest {
                tenant_id: &operator,
                name: "operator",
                scopes: &scopes,
                expires_at: None,
                rotated_from: None,
            };
            let (key, row) = service::issue_key(&mut tx, &request).await?;
            // Written before commit: if the commit fails, the next start writes a fresh key.
            write_key_file(path, &key)?;
            tracing::info!(tenant_id = %operator, key_id = %row.id, path = %path.display(), "operator API key created");
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The operator tenant's id, created if missing.
async fn operator_tenant(conn: &mut PgConnection) -> Result<String, BootstrapError> {
    if let Some(id) = store::tenant::operator_id(conn).await? {
        return Ok(id);
    }
    let id = TenantId::new();
    let tenant = NewTenant {
        name: "AEX operator".to_string(),
        tenant_type: TenantType::Both,
        contact_email: None,
        billing_email: None,
        metadata: serde_json::json!({}),
    };
    store::tenant::insert(conn, id.as_str(), &tenant, true).await?;
    Ok(id.into_string())
}

async fn insert_provided(
    conn: &mut PgConnection,
    tenant_id: &str,
    key: &PlaintextKey,
    scopes: &[String],
) -> Result<(), BootstrapError> {
    let id = aex_types::ApiKeyId::new();
    store::api_key::insert(
        conn,
        &store::api_key::NewApiKey {
            id: id.as_str(),
            tenant_id,
            name: "operator (provided)",
            key_hash: &key.hash(),
            prefix: &key.display_prefix(),
            scopes,
            expires_at: None,
            rotated_from: None,
        },
    )
    .await?;
    // A replica may have been presented this key before it existed: it must work at once.
    store::notify_credentials_changed(conn, &key.hash()).await?;
    Ok(())
}

/// Writes the key atomically (temporary file, then rename), readable by the owner only.
fn write_key_file(path: &Path, key: &PlaintextKey) -> Result<(), BootstrapError> {
    let fail = |source| BootstrapError::KeyFile { path: path.display().to_string(), source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let temporary = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    }
    file.write_all(key.expose().as_bytes()).and_then(|()| file.write_all(b"\n")).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&temporary, path).map_err(fail)
}
