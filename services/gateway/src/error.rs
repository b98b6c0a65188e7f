//! Every way a gateway request can fail, each with its HTTP status and stable code.
//!
//! Every code is `UPPER_SNAKE`, like every other AEX service. The authentication,
//! authorization and rate-limit codes used to be lower-case; `docs/api/errors.md` maps the old
//! spellings to these for clients that matched them.

use crate::domain::FieldError;
use aex_common::server::ApiError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// `Retry-After` while a dependency the route cannot do without (Redis) is unavailable.
const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No credentials, or credentials in a form the gateway does not accept.
    #[error("authentication required")]
    AuthenticationRequired,
    /// Unknown, malformed, revoked, expired or superseded API key (one answer for all, so a
    /// caller cannot probe which keys exist).
    #[error("invalid API key")]
    InvalidApiKey,
    /// A JWT that fails signature, algorithm, issuer, audience or expiry checks.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// The client address (or the key prefix) has failed authentication too often this
    /// minute; refused without looking the credentials up, good ones included.
    #[error("too many failed authentications")]
    AuthenticationThrottled { retry_after: Duration },
    /// Valid credentials of a suspended tenant.
    #[error("tenant suspended")]
    TenantSuspended,
    /// The credentials lack the scope the route requires.
    #[error("requires scope {0}")]
    InsufficientScope(&'static str),
    /// A key may not be given a scope its creator does not hold.
    #[error("cannot grant scope {0}")]
    ScopeNotGrantable(String),
    /// Missing, or belonging to another tenant (the same answer, so existence does not leak).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The body exceeds the gateway's limit.
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("{field}: {message}")]
    Validation { field: &'static str, message: String },
    /// The key cannot be rotated: revoked, expired or already rotated.
    #[error("the API key cannot be rotated: {0}")]
    KeyNotRotatable(&'static str),
    /// The operator's own tenant cannot be suspended (it would lock the operator out).
    #[error("the operator tenant cannot be suspended")]
    OperatorTenant,
    /// The upstream service's circuit breaker is open; nothing was sent.
    #[error("{service} is unavailable")]
    UpstreamUnavailable { service: &'static str, retry_in: Duration },
    /// The upstream did not answer within the gateway's timeout.
    #[error("{service} timed out")]
    UpstreamTimeout { service: &'static str },
    /// The upstream could not be reached (connection refused, reset).
    #[error("{service} could not be reached")]
    UpstreamUnreachable { service: &'static str },
    /// The tenant's rate limit is spent; `Retry-After` says when to come back.
    #[error("rate limit exceeded")]
    RateLimited { retry_after: Duration },
    /// The shared rate-limit store cannot be reached and the route fails closed (money).
    #[error("rate limiting unavailable")]
    RateLimitUnavailable,
    /// Too many calls waiting on Redis: shed at once rather than queue.
    #[error("service overloaded")]
    Overloaded,
    /// The `Idempotency-Key` was first used with a different request.
    #[error("idempotency key reused with a different request")]
    IdempotencyKeyReused,
    /// The first request with this `Idempotency-Key` has not finished yet.
    #[error("a request with this idempotency key is in progress")]
    RequestInProgress,
    /// The replay cache cannot be reached, so the at-most-once promise cannot be kept.
    #[error("idempotency unavailable")]
    IdempotencyUnavailable,
    /// A bug or an infrastructure failure; logged with its context, answered as a bare 500.
    #[error("internal: {0}")]
    Internal(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<FieldError> for Error {
    fn from(error: FieldError) -> Self {
        Self::Validation { field: error.field, message: error.message }
    }
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::AuthenticationRequired | Self::InvalidApiKey | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::TenantSuspended | Self::InsufficientScope(_) | Self::ScopeNotGrantable(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Validation { .. } => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::KeyNotRotatable(_) | Self::OperatorTenant => StatusCode::CONFLICT,
            Self::UpstreamUnavailable { .. } | Self::RateLimitUnavailable | Self::IdempotencyUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::RateLimited { .. } | Self::AuthenticationThrottled { .. } | Self::Overloaded => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RequestInProgress => StatusCode::CONFLICT,
            Self::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::UpstreamUnreachable { .. } => StatusCode::BAD_GATEWAY,
            Self::Internal(_) | Self::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::AuthenticationRequired => "AUTHENTICATION_REQUIRED",
            Self::InvalidApiKey => "INVALID_API_KEY",
            Self::InvalidToken(_) => "INVALID_TOKEN",
            Self::AuthenticationThrottled { .. } => "AUTHENTICATION_THROTTLED",
            Self::TenantSuspended => "TENANT_SUSPENDED",
            Self::InsufficientScope(_) => "INSUFFICIENT_SCOPE",
            Self::ScopeNotGrantable(_) => "SCOPE_NOT_GRANTABLE",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Validation { .. } => "VALIDATION_ERROR",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::KeyNotRotatable(_) => "KEY_NOT_ROTATABLE",
            Self::OperatorTenant => "OPERATOR_TENANT",
            Self::UpstreamUnavailable { .. } => "SERVICE_UNAVAILABLE",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::RateLimitUnavailable => "RATE_LIMIT_UNAVAILABLE",
            Self::Overloaded => "SERVICE_OVERLOADED",
            Self::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            Self::RequestInProgress => "REQUEST_IN_PROGRESS",
            Self::IdempotencyUnavailable => "IDEMPOTENCY_UNAVAILABLE",
            Self::UpstreamTimeout { .. } => "GATEWAY_TIMEOUT",
            Self::UpstreamUnreachable { .. } => "BAD_GATEWAY",
            Self::Internal(_) | Self::Database(_) => "INTERNAL_ERROR",
        }
    }

    /// The message the caller sees: never internal detail.
    fn public_message(&self) -> String {
        match self {
            Self::AuthenticationRequired => {
                "credentials required: send X-API-Key or Authorization: Bearer <api key or token>".to_string()
            }
            Self::InvalidApiKey => "the API key is invalid, revoked or expired".to_string(),
            Self::InvalidToken(reason) => format!("the access token is invalid: {reason}"),
            Self::AuthenticationThrottled { .. } => {
                "too many failed authentications from this client; retry after the time in Retry-After".to_string()
            }
            Self::TenantSuspended => "the tenant is suspended".to_string(),
            Self::InsufficientScope(scope) => format!("this route requires scope {scope}"),
            Self::ScopeNotGrantable(scope) => format!("cannot grant scope {scope}: the caller does not hold it"),
            Self::NotFound(what) => format!("{what} not found"),
            Self::Validation { field, message } => format!("{field}: {message}"),
            Self::PayloadTooLarge => "request body too large".to_string(),
            Self::KeyNotRotatable(why) => format!("the API key cannot be rotated: {why}"),
            Self::OperatorTenant => "the operator tenant cannot be suspended".to_string(),
            Self::UpstreamUnavailable { service, .. } => format!("{service} is temporarily unavailable"),
            Self::RateLimited { .. } => "rate limit exceeded; retry after the time in Retry-After".to_string(),
            Self::RateLimitUnavailable => "rate limiting is temporarily unavailable for this route".to_string(),
            Self::Overloaded => "the gateway is overloaded; retry after the time in Retry-After".to_string(),
            Self::IdempotencyKeyReused => "this Idempotency-Key was already used with a different request".to_string(),
            Self::RequestInProgress => "a request with this Idempotency-Key is still in progress".to_string(),
            Self::IdempotencyUnavailable => "requests with an Idempotency-Key cannot be accepted right now".to_string(),
            Self::UpstreamTimeout { service } => format!("{service} did not answer in time"),
            Self::UpstreamUnreachable { service } => format!("{service} could not be reached"),
            Self::Internal(_) | Self::Database(_) => "internal error".to_string(),
        }
    }

    pub fn to_api_error(&self) -> ApiError {
        ApiError::new(self.status(), self.code(), self.public_message())
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(_) | Self::Database(_) => tracing::error!(error = %self, "request failed"),
            Self::UpstreamUnavailable { .. } | Self::UpstreamTimeout { .. } | Self::UpstreamUnreachable { .. } => {
                tracing::warn!(error = %self, "upstream call failed")
            }
            _ => {}
        }
        let mut response = self.to_api_error().into_response();
        let retry_after = match &self {
            Self::UpstreamUnavailable { retry_in, .. } => Some(retry_in.as_secs().max(1)),
            Self::UpstreamUnreachable { .. } | Self::Overloaded | Self::RequestInProgress => Some(1),
            Self::RateLimited { retry_after } | Self::AuthenticationThrottled { retry_after } => {
                Some(crate::domain::ratelimit::ceil_seconds(*retry_after).max(1))
            }
            Self::RateLimitUnavailable | Self::IdempotencyUnavailable => Some(UNAVAILABLE_RETRY_AFTER_SECONDS),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status() == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"aex\""));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    async fn body_of(error: Error) -> (StatusCode, serde_json::Value, Option<String>) {
        let response = error.into_response();
        let status = response.status();
        let retry = response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_string());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), retry)
    }

    #[tokio::test]
    async fn each_variant_has_its_status_code_and_a_safe_body() {
        let cases = [
            (Error::AuthenticationRequired, 401, "AUTHENTICATION_REQUIRED"),
            (Error::InvalidApiKey, 401, "INVALID_API_KEY"),
            (Error::InvalidToken("expired"), 401, "INVALID_TOKEN"),
            (Error::AuthenticationThrottled { retry_after: Duration::from_secs(41) }, 429, "AUTHENTICATION_THROTTLED"),
            (Error::TenantSuspended, 403, "TENANT_SUSPENDED"),
            (Error::InsufficientScope("billing:write"), 403, "INSUFFICIENT_SCOPE"),
            (Error::ScopeNotGrantable("admin".into()), 403, "SCOPE_NOT_GRANTABLE"),
            (Error::NotFound("tenant"), 404, "NOT_FOUND"),
            (Error::Validation { field: "name", message: "name is required".into() }, 400, "VALIDATION_ERROR"),
            (Error::PayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"),
            (Error::KeyNotRotatable("revoked"), 409, "KEY_NOT_ROTATABLE"),
            (Error::OperatorTenant, 409, "OPERATOR_TENANT"),
            (
                Error::UpstreamUnavailable { service: "settlement", retry_in: Duration::from_secs(7) },
                503,
                "SERVICE_UNAVAILABLE",
            ),
            (Error::UpstreamTimeout { service: "settlement" }, 504, "GATEWAY_TIMEOUT"),
            (Error::UpstreamUnreachable { service: "settlement" }, 502, "BAD_GATEWAY"),
            (Error::Internal("secret detail password=hunter2".into()), 500, "INTERNAL_ERROR"),
            (Error::RateLimited { retry_after: Duration::from_millis(1500) }, 429, "RATE_LIMITED"),
            (Error::RateLimitUnavailable, 503, "RATE_LIMIT_UNAVAILABLE"),
            (Error::Overloaded, 429, "SERVICE_OVERLOADED"),
            (Error::IdempotencyKeyReused, 422, "IDEMPOTENCY_KEY_REUSED"),
            (Error::RequestInProgress, 409, "REQUEST_IN_PROGRESS"),
            (Error::IdempotencyUnavailable, 503, "IDEMPOTENCY_UNAVAILABLE"),
        ];
        for (error, status, code) in cases {
            let (got_status, body, retry) = body_of(error).await;
            assert_eq!(got_status.as_u16(), status, "{body}");
            assert_eq!(body["error"]["code"], code);
            assert!(!body.to_string().contains("hunter2"));
            match code {
                "SERVICE_UNAVAILABLE" => assert_eq!(retry.as_deref(), Some("7")),
                "RATE_LIMITED" => assert_eq!(retry.as_deref(), Some("2"), "rounded up"),
                "AUTHENTICATION_THROTTLED" => assert_eq!(retry.as_deref(), Some("41")),
                "RATE_LIMIT_UNAVAILABLE" | "SERVICE_OVERLOADED" | "IDEMPOTENCY_UNAVAILABLE" => {
                    assert!(retry.is_some(), "{code} tells when to retry")
                }
                _ => {}
            }
        }
        let (_, body, _) = body_of(Error::InsufficientScope("billing:write")).await;
        assert!(body["error"]["message"].as_str().unwrap().contains("billing:write"));
    }
}
