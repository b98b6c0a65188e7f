//! Receipts: `GET /v1/settlements/{contract_id}/receipt` (the parties), `POST /v1/receipts/verify`,
//! `GET /v1/receipts/keys` (the published public keys) and `POST /v1/receipts/keys/rotate`
//! (the operator).

use crate::AppState;
use crate::domain::receipt::{self, ReceiptFields};
use crate::error::{Error, Result};
use crate::store::{receipts, settlements};
use aex_common::auth::Principal;
use aex_common::server::Json;
use axum::extract::{Path, State};
use p256::ecdsa::VerifyingKey;
use p256::pkcs8::DecodePublicKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Serialize)]
pub struct SignedReceipt {
    pub receipt: Value,
    pub signature: String,
    pub algorithm: &'static str,
    pub key_version: i32,
    pub public_key_pem: String,
}

pub async fn get_receipt(
    State(state): State<AppState>,
    principal: Principal,
    Path(contract_id): Path<String>,
) -> Result<Json<SignedReceipt>> {
    let row = settlements::get(&state.pool, &contract_id).await?.ok_or(Error::NotFound)?;
    let party =
        principal.tenant_id.as_deref().is_some_and(|t| t == row.consumer_tenant_id || t == row.provider_tenant_id);
    if !(party || principal.is_admin()) {
        return Err(Error::NotFound);
    }
    if row.status != crate::domain::escrow::SettlementStatus::Settled {
        return Err(Error::ReceiptNotAvailable);
    }
    let stored = match receipts::get(&state.pool, &contract_id).await? {
        Some(stored) => stored,
        None => {
            let seq = row.journal_seq.ok_or(Error::ReceiptNotAvailable)?;
            let hash = receipts::journal_hash(&state.pool, seq).await?.ok_or(Error::ReceiptNotAvailable)?;
            let issued = state.receipts.issue(&row, &hex::encode(hash));
            receipts::insert_once(&state.pool, &issued).await?
        }
    };
    let public_key_pem = receipts::public_keys(&state.pool)
        .await?
        .into_iter()
        .find(|(version, _, _)| *version == stored.key_version)
        .map(|(_, pem, _)| pem)
        .unwrap_or_default();
    Ok(Json(SignedReceipt {
        receipt: serde_json::from_str(&stored.body).unwrap_or(Value::Null),
        signature: stored.signature,
        algorithm: receipt::ALGORITHM,
        key_version: stored.key_version,
        public_key_pem,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    pub receipt: Value,
    pub signature: String,
}

#[derive(Debug, Serialize)]
pub struct Verification {
    pub valid: bool,
    pub contract_id: Option<String>,
    pub reason: Option<&'static str>,
}

pub async fn verify(State(state): State<AppState>, Json(body): Json<VerifyBody>) -> Result<Json<Verification>> {
    let Value::Object(map) = body.receipt else {
        return Err(Error::validation("receipt must be the receipt object"));
    };
    let mut fields = ReceiptFields::new();
    for (key, value) in map {
        match value {
            Value::String(text) => {
                fields.insert(key, text);
            }
            _ => return Err(Error::validation(format!("receipt.{key} must be a string, as issued"))),
        }
    }
    let contract_id = fields.get("contract_id").cloned();
    let answer = |valid: bool, reason: Option<&'static str>| {
        Json(Verification { valid, contract_id: contract_id.clone(), reason })
    };
    let Some(version) = fields.get("key_version").and_then(|v| v.parse::<i32>().ok()) else {
        return Ok(answer(false, Some("unknown_key_version")));
    };
    let keys = receipts::public_keys(&state.pool).await?;
    let Some(key) =
        keys.iter().find(|(v, _, _)| *v == version).and_then(|(_, pem, _)| VerifyingKey::from_public_key_pem(pem).ok())
    else {
        return Ok(answer(false, Some("unknown_key_version")));
    };
    if receipt::verify(&fields, &body.signature, &key) {
        Ok(answer(true, None))
    } else {
        Ok(answer(false, Some("bad_signature")))
    }
}

#[derive(Debug, Serialize)]
pub struct PublishedKey {
    pub version: i32,
    pub status: String,
    pub algorithm: &'static str,
    pub public_key_pem: String,
}

#[derive(Debug, Serialize)]
pub struct Keys {
    pub issuer: &'static str,
    pub active_version: i32,
    pub keys: Vec<PublishedKey>,
}

/// The operator retires the active receipt key and signs with a new version from now on; the
/// published keys, with the new active version, are returned.
pub async fn rotate(State(state): State<AppState>, principal: Principal) -> Result<Json<Keys>> {
    if !principal.is_admin() {
        return Err(Error::Auth(aex_common::server::ApiError::forbidden(
            "INSUFFICIENT_SCOPE",
            "rotating the receipt key is for the operator",
        )));
    }
    state.receipts.rotate(&state.pool).await.map_err(|error| match error {
        crate::receipts::RotateError::Database(error) => Error::Database(error),
        crate::receipts::RotateError::Key(reason) => {
            tracing::error!(%reason, "receipt key rotation failed");
            Error::Unavailable
        }
    })?;
    keys(State(state)).await
}

pub async fn keys(State(state): State<AppState>) -> Result<Json<Keys>> {
    let keys = receipts::public_keys(&state.pool)
        .await?
        .into_iter()
        .map(|(version, public_key_pem, status)| PublishedKey {
            version,
            status,
            algorithm: receipt::ALGORITHM,
            public_key_pem,
        })
        .collect();
    Ok(Json(Keys { issuer: crate::receipts::ISSUER, active_version: state.receipts.version(), keys }))
}
