//! Orchestration shared by handlers and start-up: issuing a key (generate, hash, store, notify),
//! and the `Idempotency-Key` records of the gateway's own creates.

use crate::domain::api_key::PlaintextKey;
use crate::domain::idempotency;
use crate::error::Error;
use crate::store;
use crate::store::api_key::{self, ApiKeyRow, NewApiKey};
use crate::store::idempotent_create;
use aex_types::{ApiKeyId, Timestamp};
use serde::Serialize;
use sqlx::PgConnection;

/// What to issue.
#[derive(Debug, Clone)]
pub struct KeyRequest<'a> {
    pub tenant_id: &'a str,
    pub name: &'a str,
    pub scopes: &'a [String],
    pub expires_at: Option<Timestamp>,
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

/// A key as the owner sees it once, at creation: with its plaintext. A replay of the create
/// (same `Idempotency-Key`) shows the same key without it: `key` is `null` and `key_note` says
/// why, since the secret is stored nowhere.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedKey {
    pub id: String,
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_note: Option<&'static str>,
    pub prefix: String,
    pub name: String,
    pub scopes: Vec<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    pub rotated_from: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// What a replayed create says in place of the secret.
pub const KEY_SHOWN_ONCE: &str = "the key was shown only in the first answer to this Idempotency-Key; \
     if it was lost, rotate or revoke this key";

impl IssuedKey {
    pub fn new(key: &PlaintextKey, row: ApiKeyRow) -> Result<Self, Error> {
        Self::shown(Some(key.expose().to_string()), row)
    }

    /// The key created by the first request with this `Idempotency-Key`, without its secret.
    pub fn replayed(row: ApiKeyRow) -> Result<Self, Error> {
        Self::shown(None, row)
    }

    fn shown(key: Option<String>, row: ApiKeyRow) -> Result<Self, Error> {
        Ok(Self {
            id: row.id,
            key_note: key.is_none().then_some(KEY_SHOWN_ONCE),
            key,
            prefix: row.prefix,
            name: row.name,
            scopes: row.scopes,
            expires_at: row.expires_at,
            rotated_from: row.rotated_from,
            created_at: row.created_at,
        })
    }
}

/// An `Idempotency-Key` on one of the gateway's own creates, namespaced by the caller's tenant
/// and the route.
#[derive(Debug, Clone)]
pub struct CreateKey {
    pub caller_tenant_id: String,
    pub route: &'static str,
    pub scope: String,
    pub fingerprint: String,
}

impl CreateKey {
    /// `client_key` on `POST path` (route `pattern`) with `body`, the request as deserialized
    /// and serialized again, so whitespace and field order do not make another request.
    pub fn new(caller_tenant_id: &str, pattern: &'static str, path: &str, client_key: &str, body: &[u8]) -> Self {
        Self {
            caller_tenant_id: caller_tenant_id.to_string(),
            route: pattern,
            scope: idempotency::scope_digest("POST", pattern, path, client_key),
            fingerprint: idempotency::fingerprint("POST", path, "", body),
        }
    }
}

/// What a create's earlier request with the same key created.
#[derive(Debug, Clone)]
pub struct EarlierCreate {
    pub tenant_id: String,
    pub api_key_id: String,
}

/// Claims `key` in `conn`'s transaction: `None` for the first request (create, then
/// [`complete_create`]), or what the first one created. A concurrent first request is waited
/// for; a different request under the same key is refused.
pub async fn claim_create(conn: &mut PgConnection, key: &CreateKey) -> Result<Option<EarlierCreate>, Error> {
    if idempotent_create::claim(conn, &key.caller_tenant_id, &key.scope, key.route, &key.fingerprint).await? {
        return Ok(None);
    }
    let record = idempotent_create::find(conn, &key.caller_tenant_id, &key.scope)
        .await?
        .ok_or_else(|| Error::Internal("an idempotency record vanished after its conflict".into()))?;
    if record.fingerprint != key.fingerprint {
        return Err(Error::IdempotencyKeyReused);
    }
    match (record.tenant_id, record.api_key_id) {
        (Some(tenant_id), Some(api_key_id)) => Ok(Some(EarlierCreate { tenant_id, api_key_id })),
        _ => Err(Error::Internal("a committed idempotency record without its result".into())),
    }
}

/// Records what the claiming request created, before its transaction commits.
pub async fn complete_create(conn: &mut PgConnection, key: &CreateKey, created: &EarlierCreate) -> Result<(), Error> {
    idempotent_create::complete(conn, &key.caller_tenant_id, &key.scope, &created.tenant_id, &created.api_key_id)
        .await?;
    Ok(())
}
