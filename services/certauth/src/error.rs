//! Certauth's errors: each variant is one stable code and status; internal causes are logged
//! and answered with a generic 500.

use crate::domain::x509::KeyError;
use aex_common::keywrap::KeyWrapError;
use aex_common::server::ApiError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field is missing or malformed; the message names it.
    #[error("{0}")]
    Validation(Cow<'static, str>),
    /// `public_key_pem` is not a P-256 SubjectPublicKeyInfo.
    #[error("public_key_pem must be a PEM-encoded P-256 public key")]
    InvalidPublicKey,
    /// The CSR is malformed, not P-256/SHA-256, or its signature does not match its key.
    #[error("csr_pem is not a valid PKCS#10 request: {0}")]
    InvalidCsr(&'static str),
    /// Missing, or owned by another tenant (which must not learn it exists).
    #[error("not found")]
    NotFound,
    /// Approving a rejected request or rejecting an approved one.
    #[error("the request was already {0}")]
    AlreadyDecided(&'static str),
    /// Renewing a certificate that is no longer active.
    #[error("the certificate is {0}, not ACTIVE")]
    NotActive(&'static str),
    #[error(transparent)]
    Auth(ApiError),
    /// No CA key version may sign right now.
    #[error("no active CA key")]
    NoActiveKey,
    #[error("CA key storage: {0}")]
    KeyWrap(#[from] KeyWrapError),
    /// Building or signing X.509 or credential material failed.
    #[error("crypto: {0}")]
    Crypto(String),
    /// A stored row could not be read back (corruption or a bug).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("events: {0}")]
    Events(#[from] aex_common::events::EventError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<ApiError> for Error {
    fn from(error: ApiError) -> Self {
        Error::Auth(error)
    }
}

impl From<KeyError> for Error {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::InvalidPublicKey => Error::InvalidPublicKey,
            KeyError::InvalidCsr(why) => Error::InvalidCsr(why),
        }
    }
}

impl From<crate::domain::x509::X509Error> for Error {
    fn from(error: crate::domain::x509::X509Error) -> Self {
        Error::Crypto(error.0)
    }
}

impl From<crate::domain::ca::CaError> for Error {
    fn from(error: crate::domain::ca::CaError) -> Self {
        Error::Crypto(error.to_string())
    }
}

impl From<crate::domain::request::Invalid> for Error {
    fn from(error: crate::domain::request::Invalid) -> Self {
        Error::Validation(error.0)
    }
}

impl Error {
    pub fn validation(message: impl Into<Cow<'static, str>>) -> Self {
        Error::Validation(message.into())
    }

    pub fn api(&self) -> ApiError {
        match self {
            Error::Validation(message) => ApiError::bad_request("VALIDATION_ERROR", message.clone()),
            Error::InvalidPublicKey => ApiError::bad_request("INVALID_PUBLIC_KEY", self.to_string()),
            Error::InvalidCsr(_) => ApiError::bad_request("INVALID_CSR", self.to_string()),
            Error::NotFound => ApiError::not_found("not found"),
            Error::AlreadyDecided(_) => {
                ApiError::new(StatusCode::CONFLICT, "REQUEST_ALREADY_DECIDED", self.to_string())
            }
            Error::NotActive(_) => ApiError::new(StatusCode::CONFLICT, "CERTIFICATE_NOT_ACTIVE", self.to_string()),
            Error::Auth(error) => error.clone(),
            Error::NoActiveKey => ApiError::service_unavailable("no CA key can sign right now"),
            Error::KeyWrap(error) => {
                tracing::error!(%error, "CA key storage error");
                ApiError::internal()
            }
            Error::Crypto(error) | Error::Corrupt(error) => {
                tracing::error!(%error, "certificate authority error");
                ApiError::internal()
            }
            Error::Events(error) => {
                tracing::error!(%error, "outbox error");
                ApiError::internal()
            }
            Error::Database(error) => {
                tracing::error!(%error, "database error");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.api().into_response()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_error_has_its_status_and_code_and_internal_ones_say_nothing() {
        let cases = [
            (Error::validation("claims must hold 1 to 32 claims"), 400, "VALIDATION_ERROR"),
            (Error::InvalidPublicKey, 400, "INVALID_PUBLIC_KEY"),
            (Error::InvalidCsr("malformed"), 400, "INVALID_CSR"),
            (Error::NotFound, 404, "NOT_FOUND"),
            (Error::AlreadyDecided("REJECTED"), 409, "REQUEST_ALREADY_DECIDED"),
            (Error::NotActive("REVOKED"), 409, "CERTIFICATE_NOT_ACTIVE"),
            (Error::NoActiveKey, 503, "SERVICE_UNAVAILABLE"),
            (Error::Crypto("secret detail".into()), 500, "INTERNAL_ERROR"),
            (Error::KeyWrap(KeyWrapError::Decrypt), 500, "INTERNAL_ERROR"),
        ];
        for (error, status, code) in cases {
            let api = error.api();
            assert_eq!((api.status.as_u16(), api.code.as_ref()), (status, code), "{error}");
            assert!(!api.message.contains("secret detail"));
        }
    }
}
