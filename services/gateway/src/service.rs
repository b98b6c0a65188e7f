//! Orchestration shared by handlers and start-up: issuing a key (generate, hash, store, notify).

use crate::domain::api_key::PlaintextKey;
use crate::error::Error;
use crate::http::{optional_timestamp, timestamp};
use crate::store;
use crate::store::api_key::{self, ApiKeyRow, NewApiKey};
use aex_types::{ApiKeyId, Timestamp};
use serde::Serialize;
use sqlx::PgConnection;
use time::OffsetDateTime;

/// What to issue.
#[derive(Debug, Clone)]
pub struct KeyRequest<'a> {
    pub tenant_id: &'a str,
    pub name: &'a str,
    pub scopes: &'a [String],
    pub expires_at: Option<OffsetDateTime>,
    pub rotated_from: Option<&'a str>,
}

/// Generates a key and stores its hash; the plaintext is returned to be shown once. Every
/// replica is told (at commit) to forget that the hash matched no key.
pub async fn issue_key(conn: &mut PgConnection, request: &KeyRequest<'_>) -> Result<(PlaintextKey, ApiKeyRow), Error> {
    let key = PlaintextKey::generate().map_err(|e| Error::Internal(format!("OS random number generator: {e}")))?;
    let id = ApiKeyId::new();
    let hash = key.hash();
    let row = api_key::insert(
        conn,
        &NewApiKey {
            id: id.as_str(),
            tenant_id: request.tenant_id,
            name: request.name,
            key_hash: &hash,
            prefix: &key.display_prefix(),
            scopes: request.scopes,
            expires_at: request.expires_at,
            rotated_from: request.rotated_from,
        },
    )
    .await?;
    store::notify_credentials_changed(conn, &hash).await?;
    Ok((key, row))
}

/// A key as the owner sees it once, at creation: with its plaintext.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedKey {
    pub id: String,
    pub key: String,
    pub prefix: String,
    pub name: String,
    pub scopes: Vec<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    pub rotated_from: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl IssuedKey {
    pub fn new(key: &PlaintextKey, row: ApiKeyRow) -> Result<Self, Error> {
        Ok(Self {
            id: row.id,
            key: key.expose().to_string(),
            prefix: row.prefix,
            name: row.name,
            scopes: row.scopes,
            expires_at: optional_timestamp(row.expires_at)?,
            rotated_from: row.rotated_from,
            created_at: timestamp(row.created_at)?,
        })
    }
}
