//! A downstream's answer, fully read: status, headers and body bytes.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::error::CallError;

/// The final answer of a call, whatever its status (see [`CallError`] for why).
#[derive(Clone)]
pub struct Response {
    downstream: Arc<str>,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    pub(crate) fn new(downstream: Arc<str>, status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        Self { downstream, status, headers, body }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body, consuming the response.
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// The name of the downstream that answered.
    pub fn downstream(&self) -> &str {
        &self.downstream
    }

    /// Decodes the body as JSON (whatever the status: error documents decode too).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, CallError> {
        serde_json::from_slice(&self.body).map_err(|error| CallError::decode(&self.downstream, &error))
    }

    /// `Ok(self)` for a 2xx answer, [`CallError::Status`] (carrying the body) otherwise.
    pub fn error_for_status(self) -> Result<Self, CallError> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(CallError::Status { downstream: self.downstream, status: self.status, body: self.body })
        }
    }
}

impl fmt::Debug for Response {
    // Header values (cookies) and bodies may be sensitive: show their names and size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("downstream", &self.downstream)
            .field("status", &self.status)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}
