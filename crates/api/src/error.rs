//! The error envelope of every AEX response:
//! `{"error":{"code":"UPPER_SNAKE_CASE","message":"...","request_id":"..."}}`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of the error envelope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code, e.g. `INSUFFICIENT_FUNDS`.
    pub code: String,
    /// Human-readable explanation; never contains secrets or internals.
    pub message: String,
    /// The request id, also in the `X-Request-ID` response header.
    pub request_id: String,
}

/// Every error response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}
