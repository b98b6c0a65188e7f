//! What a call can fail with: an answer from AEX carrying its stable code, a transport failure,
//! a body the SDK could not read, or input refused before anything was sent.

use aex_api::ErrorEnvelope;
use serde_json::Value;
use std::time::Duration;

/// The result of every SDK call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a call failed.
///
/// Match on [`Error::code`] (the stable `UPPER_SNAKE` code of the error envelope; see
/// `docs/api/errors.md`), never on the message:
///
/// ```no_run
/// # async fn demo(client: aex_client::Client, id: aex_types::WorkId) -> aex_client::Result<()> {
/// match client.work().get(&id).await {
///     Ok(work) => println!("{} is {}", work.work_id, work.status),
///     Err(error) if error.is_not_found() => println!("no such work"),
///     Err(error) if error.code() == Some("BIDS_SEALED") => println!("still open"),
///     Err(error) => return Err(error),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// AEX answered with an error status and (usually) the error envelope
    /// `{"error":{"code","message","request_id"}}`.
    #[error("{status} {code}: {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The stable code, e.g. `INSUFFICIENT_FUNDS`, `NOT_FOUND`, `INVALID_API_KEY`. For an answer
        /// without the envelope (a proxy in between), a code derived from the status.
        code: String,
        /// A message safe to show; never parse it.
        message: String,
        /// The request id from the envelope or the `X-Request-ID` header, for support.
        request_id: Option<String>,
        /// `Retry-After` in seconds, on 429 and 503 answers.
        retry_after: Option<Duration>,
        /// Anything else the answer carried: extra fields of the envelope's `error` object, or
        /// the raw body when it was not an envelope.
        details: Option<Box<Value>>,
    },
    /// The request did not complete: connection refused or reset, timeout, TLS failure.
    #[error("transport: {0}")]
    Transport(#[source] reqwest::Error),
    /// A success answer whose body does not have the expected shape.
    #[error("cannot decode the {status} answer: {source}")]
    Decode {
        /// The HTTP status of the answer.
        status: u16,
        #[source]
        source: serde_json::Error,
    },
    /// Refused before sending: a bad base URL, an empty API key, a header value that cannot be sent.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A create repeated with the same `Idempotency-Key` names the key it made, but its secret
    /// was shown only in the first answer.
    #[error("the secret of API key {key_id} was shown in the first answer and is not shown again")]
    SecretAlreadyShown { key_id: String },
}

impl Error {
    /// The stable code of an API error (`None` for transport, decode and input errors).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The request id AEX gave the failed request, if it answered.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// How long AEX asked the caller to wait (`Retry-After`), on 429 and 503.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// 404: missing, or another tenant's (AEX does not tell the two apart).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// 409: a state conflict (`WORK_ALREADY_AWARDED`, `REQUEST_IN_PROGRESS`, ...).
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// 429: the tenant's rate limit is spent; see [`Error::retry_after`].
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// 401: missing, invalid, revoked or expired credentials.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// 403: the credentials lack the scope (`INSUFFICIENT_SCOPE`) or the tenant is suspended.
    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(403)
    }

    /// 400 or 422: the request itself is wrong and repeating it will not help.
    pub fn is_invalid_request(&self) -> bool {
        matches!(self.status(), Some(400 | 422))
    }

    /// 402: the caller's available funds do not cover it (`INSUFFICIENT_FUNDS`).
    pub fn is_payment_required(&self) -> bool {
        self.status() == Some(402)
    }

    /// Whether the same request may succeed later: transport failures, 408, 429, 502, 503,
    /// 504, and 409 `REQUEST_IN_PROGRESS` (the first request with this idempotency key has
    /// not finished yet).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport(_) => true,
            Error::Api { status: 409, code, .. } => code == "REQUEST_IN_PROGRESS",
            Error::Api { status, .. } => matches!(status, 408 | 429 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// Builds the API error of a failed answer from its status, headers and body.
    pub(crate) fn from_answer(
        status: u16,
        header_request_id: Option<String>,
        retry_after: Option<Duration>,
        body: &[u8],
    ) -> Error {
        if let Ok(envelope) = serde_json::from_slice::<ErrorEnvelope>(body) {
            let extra = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|mut value| value.get_mut("error").map(Value::take))
                .and_then(|error| match error {
                    Value::Object(mut map) => {
                        for known in ["code", "message", "request_id"] {
                            map.remove(known);
                        }
                        (!map.is_empty()).then(|| Box::new(Value::Object(map)))
                    }
                    _ => None,
                });
            let request_id = Some(envelope.error.request_id).filter(|id| !id.is_empty()).or(header_request_id);
            return Error::Api {
                status,
                code: envelope.error.code,
                message: envelope.error.message,
                request_id,
                retry_after,
                details: extra,
            };
        }
        let text = String::from_utf8_lossy(body).into_owned();
        Error::Api {
            status,
            code: code_for_status(status).to_string(),
            message: format!("HTTP {status} without an AEX error body"),
            request_id: header_request_id,
            retry_after,
            details: (!text.is_empty()).then(|| Box::new(Value::String(text))),
        }
    }
}

/// The code AEX itself uses for a bare status (see `aex_common::server::code_for_status`), so an
/// answer from a proxy in front of AEX still has a stable code.
fn code_for_status(status: u16) -> &'static str {
    match status {
        400 => "BAD_REQUEST",
        401 => "AUTHENTICATION_REQUIRED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        408 => "REQUEST_TIMEOUT",
        409 => "CONFLICT",
        413 => "PAYLOAD_TOO_LARGE",
        415 => "UNSUPPORTED_MEDIA_TYPE",
        422 => "VALIDATION_ERROR",
        429 => "RATE_LIMITED",
        502 => "BAD_GATEWAY",
        503 => "SERVICE_UNAVAILABLE",
        504 => "GATEWAY_TIMEOUT",
        s if s >= 500 => "INTERNAL_ERROR",
        _ => "ERROR",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_envelope_gives_its_code_message_and_request_id() {
        let body = br#"{"error":{"code":"INSUFFICIENT_FUNDS","message":"insufficient funds","request_id":"req-1"}}"#;
        let error = Error::from_answer(402, Some("req-header".into()), None, body);
        assert_eq!(error.code(), Some("INSUFFICIENT_FUNDS"));
        assert_eq!(error.request_id(), Some("req-1"));
        assert!(error.is_payment_required());
        assert!(matches!(&error, Error::Api { details: None, .. }));
        assert_eq!(error.to_string(), "402 INSUFFICIENT_FUNDS: insufficient funds");
    }

    #[test]
    fn extra_envelope_fields_land_in_details() {
        let body = br#"{"error":{"code":"VALIDATION_ERROR","message":"m","request_id":"","field":"amount"}}"#;
        let error = Error::from_answer(400, Some("req-h".into()), None, body);
        assert_eq!(error.request_id(), Some("req-h"), "an empty envelope id falls back to the header");
        let Error::Api { details, .. } = error else { panic!("api error") };
        assert_eq!(details.unwrap()["field"], "amount");
    }

    #[test]
    fn a_bare_status_gets_the_platform_code() {
        let error = Error::from_answer(503, None, Some(Duration::from_secs(2)), b"upstream down");
        assert_eq!(error.code(), Some("SERVICE_UNAVAILABLE"));
        assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));
        assert!(error.is_transient());
        let Error::Api { details, .. } = error else { panic!("api error") };
        assert_eq!(*details.unwrap(), Value::String("upstream down".into()));
        assert_eq!(Error::from_answer(429, None, None, b"").code(), Some("RATE_LIMITED"));
        assert!(Error::from_answer(429, None, None, b"").is_rate_limited());
    }
}
