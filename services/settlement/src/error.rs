//! Settlement's errors: each variant is one stable code and status; internal causes are
//! logged and answered with a generic 500.

use aex_common::server::ApiError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field is missing or malformed; the message names it.
    #[error("{0}")]
    Validation(Cow<'static, str>),
    /// An amount that is not a positive exact decimal in the currency's precision.
    #[error("{message}")]
    InvalidAmount { code: &'static str, message: Cow<'static, str> },
    #[error("unknown currency {0:?}")]
    UnknownCurrency(String),
    #[error("a batch holds 1 to {max} transfers", max = crate::ledger::MAX_BATCH)]
    BatchSize,
    #[error("not found")]
    NotFound,
    #[error("insufficient funds")]
    InsufficientFunds,
    /// The same transfer id or idempotency key was used for a different request.
    #[error("this id was already used for a different request")]
    IdReused,
    /// A single transfer refused by the ledger rules, with its result code.
    #[error("transfer refused: {0}")]
    TransferRefused(&'static str),
    #[error(transparent)]
    Auth(ApiError),
    #[error("the fees on this price would exceed it")]
    BelowMinimumFee,
    #[error("no escrow hold exists for this contract")]
    HoldNotFound,
    #[error("a hold with different terms exists for this contract")]
    HoldConflict,
    #[error("this contract's escrow was already resolved")]
    AlreadyResolved,
    #[error("a receipt exists only for a settled contract")]
    ReceiptNotAvailable,
    #[error("the ledger is not accepting work right now")]
    Unavailable,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<ApiError> for Error {
    fn from(error: ApiError) -> Self {
        Error::Auth(error)
    }
}

impl From<crate::ledger::LedgerError> for Error {
    fn from(error: crate::ledger::LedgerError) -> Self {
        match error {
            crate::ledger::LedgerError::Closed | crate::ledger::LedgerError::Unavailable => Error::Unavailable,
            crate::ledger::LedgerError::Database(e) => Error::Database(e),
        }
    }
}

impl From<aex_types::MoneyError> for Error {
    fn from(error: aex_types::MoneyError) -> Self {
        Error::InvalidAmount { code: error.code(), message: error.to_string().into() }
    }
}

impl Error {
    pub fn validation(message: impl Into<Cow<'static, str>>) -> Self {
        Error::Validation(message.into())
    }

    fn api(&self) -> ApiError {
        match self {
            Error::Validation(message) => ApiError::bad_request("VALIDATION_ERROR", message.clone()),
            Error::InvalidAmount { code, message } => ApiError::bad_request(code, message.clone()),
            Error::UnknownCurrency(_) => ApiError::bad_request("UNKNOWN_CURRENCY", self.to_string()),
            Error::BatchSize => ApiError::bad_request("BATCH_SIZE_INVALID", self.to_string()),
            Error::NotFound => ApiError::not_found("not found"),
            Error::InsufficientFunds => {
                ApiError::new(StatusCode::PAYMENT_REQUIRED, "INSUFFICIENT_FUNDS", "insufficient available funds")
            }
            Error::IdReused => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED", self.to_string())
            }
            Error::TransferRefused(code) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, *code, self.to_string()),
            Error::BelowMinimumFee => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "AMOUNT_BELOW_MINIMUM_FEE",
                "the platform and protocol fees would exceed this price",
            ),
            Error::HoldNotFound => ApiError::new(StatusCode::NOT_FOUND, "HOLD_NOT_FOUND", self.to_string()),
            Error::HoldConflict => ApiError::new(StatusCode::CONFLICT, "HOLD_CONFLICT", self.to_string()),
            Error::ReceiptNotAvailable => {
                ApiError::new(StatusCode::CONFLICT, "RECEIPT_NOT_AVAILABLE", self.to_string())
            }
            Error::AlreadyResolved => ApiError::new(StatusCode::CONFLICT, "ALREADY_RESOLVED", self.to_string()),
            Error::Auth(error) => error.clone(),
            Error::Unavailable => ApiError::service_unavailable(self.to_string()),
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
