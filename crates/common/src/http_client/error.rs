//! Why an outbound call produced no usable answer.
//!
//! Texts name the downstream and the kind of failure only: never a header value, a request
//! body or a response body (which may hold tokens or personal data).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

/// Failure of [`HttpClient::call`](super::HttpClient::call) and of the `Response` helpers.
///
/// Any HTTP answer that is not retried further is returned as `Ok(Response)`, whatever its
/// status: callers often need a 404 or a 409 and its body. `Status` only comes from
/// [`Response::error_for_status`](super::Response::error_for_status) and the `*_json` helpers.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The downstream's breaker is open; nothing was sent.
    #[error("circuit breaker for {downstream} is open (retry in {retry_in:?})")]
    CircuitOpen {
        /// The downstream's name.
        downstream: Arc<str>,
        /// Time until the breaker lets a probe through (zero: a probe is in flight).
        retry_in: Duration,
    },
    /// The last attempt did not complete within its timeout.
    #[error("call to {downstream} timed out after {timeout:?}")]
    Timeout {
        /// The downstream's name.
        downstream: Arc<str>,
        /// The per-attempt timeout that elapsed.
        timeout: Duration,
    },
    /// The last attempt failed below HTTP: DNS, connect, reset, truncated body.
    #[error("transport error calling {downstream}: {message}")]
    Transport {
        /// The downstream's name.
        downstream: Arc<str>,
        /// The error chain, without the URL.
        message: String,
    },
    /// The downstream answered with a non-success status.
    #[error("{downstream} answered {status}")]
    Status {
        /// The downstream's name.
        downstream: Arc<str>,
        /// The status.
        status: StatusCode,
        /// The response body, for callers that parse error documents; not in the text.
        body: Bytes,
    },
    /// The response body is not the JSON the caller expected.
    #[error("response from {downstream} could not be decoded: {message}")]
    Decode {
        /// The downstream's name.
        downstream: Arc<str>,
        /// Category and position of the problem (never the offending value).
        message: String,
    },
    /// The request could not be built (bad path, header, token or body); nothing was sent.
    #[error("invalid request to {downstream}: {reason}")]
    InvalidRequest {
        /// The downstream's name.
        downstream: Arc<str>,
        /// What is wrong.
        reason: String,
    },
}

impl CallError {
    /// The downstream the call was for.
    pub fn downstream(&self) -> &str {
        match self {
            Self::CircuitOpen { downstream, .. }
            | Self::Timeout { downstream, .. }
            | Self::Transport { downstream, .. }
            | Self::Status { downstream, .. }
            | Self::Decode { downstream, .. }
            | Self::InvalidRequest { downstream, .. } => downstream,
        }
    }

    /// The downstream's status, for `Status` errors.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn decode(downstream: &Arc<str>, error: &serde_json::Error) -> Self {
        Self::Decode {
            downstream: downstream.clone(),
            message: format!("{} error at line {} column {}", json_error_category(error), error.line(), error.column()),
        }
    }

    pub(crate) fn invalid(downstream: &Arc<str>, reason: impl Into<String>) -> Self {
        Self::InvalidRequest { downstream: downstream.clone(), reason: reason.into() }
    }
}

impl fmt::Debug for CallError {
    // Hand-written so that `?error` in a log line cannot print a response body.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CircuitOpen { downstream, retry_in } => {
                f.debug_struct("CircuitOpen").field("downstream", downstream).field("retry_in", retry_in).finish()
            }
            Self::Timeout { downstream, timeout } => {
                f.debug_struct("Timeout").field("downstream", downstream).field("timeout", timeout).finish()
            }
            Self::Transport { downstream, message } => {
                f.debug_struct("Transport").field("downstream", downstream).field("message", message).finish()
            }
            Self::Status { downstream, status, body } => f
                .debug_struct("Status")
                .field("downstream", downstream)
                .field("status", status)
                .field("body", &format_args!("<{} bytes>", body.len()))
                .finish(),
            Self::Decode { downstream, message } => {
                f.debug_struct("Decode").field("downstream", downstream).field("message", message).finish()
            }
            Self::InvalidRequest { downstream, reason } => {
                f.debug_struct("InvalidRequest").field("downstream", downstream).field("reason", reason).finish()
            }
        }
    }
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    /// A setting is out of range.
    #[error("invalid HTTP client configuration: {0}")]
    InvalidConfig(String),
    /// reqwest refused the settings (e.g. TLS initialisation failed).
    #[error("could not build the HTTP client: {0}")]
    Reqwest(#[from] reqwest::Error),
}

/// serde_json's messages may quote the offending value; its category never does.
pub(crate) fn json_error_category(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Io => "io",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "data",
        serde_json::error::Category::Eof => "eof",
    }
}

/// An error chain as text, with no URL (URLs may carry query parameters).
pub(crate) fn transport_message(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
