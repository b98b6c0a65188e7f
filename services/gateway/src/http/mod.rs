//! The gateway's HTTP surface: its own identity routes (one file per resource) and the proxy
//! for every other public route, assembled from the route table.

pub mod api_keys;
pub mod auth_token;
pub mod info;
pub mod openapi;
pub mod proxy;
pub mod tenants;

use crate::domain::{FieldError, idempotency};
use crate::error::Error;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;

/// A JSON body that may be absent (`POST …/suspend` with no reason): empty means `T::default()`.
pub fn optional_json<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|error| Error::Validation {
        field: "body",
        message: format!(
            "malformed JSON body ({})",
            match error.classify() {
                serde_json::error::Category::Data => "a field has the wrong type",
                _ => "syntax error",
            }
        ),
    })
}

/// The request's `Idempotency-Key`, if it sent a valid one (an invalid one is a 400).
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Error> {
    let Some(value) = headers.get(&crate::idempotency::IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("");
    let key = idempotency::validate_key(value)
        .map_err(|FieldError { field, message }| Error::Validation { field, message })?;
    Ok(Some(key.to_string()))
}

/// The headers of an answer: `Idempotent-Replayed: true` when it repeats an earlier create.
pub fn replay_headers(replayed: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if replayed {
        headers.insert(crate::idempotency::IDEMPOTENT_REPLAYED.clone(), HeaderValue::from_static("true"));
    }
    headers
}
