//! Work-publisher's errors: each variant is one stable code and status; internal causes are
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
    /// Missing, or belonging to another tenant (existence does not leak).
    #[error("not found")]
    NotFound,
    /// The named provider is not one of the caller's own.
    #[error("provider not found")]
    ProviderNotFound,
    /// Another tenant owns this provider name.
    #[error("this provider name is registered by another tenant")]
    ProviderNameTaken,
    /// The caller already registered a provider with this name.
    #[error("you already have a provider with this name")]
    ProviderExists,
    /// The work's state does not allow this change.
    #[error("work is {from}; it cannot become {to}")]
    InvalidWorkState { from: &'static str, to: &'static str },
    #[error("work is not open for bids")]
    WorkNotOpen,
    #[error("the bid window of this work has closed")]
    BidWindowClosed,
    #[error("bids are sealed until the bid window closes")]
    BidsSealed,
    #[error("a tenant cannot bid on its own work")]
    OwnWork,
    #[error("bid not found for this work")]
    BidNotFound,
    #[error("this work already has a contract")]
    AlreadyAwarded,
    #[error("an award of this work is in progress")]
    AwardInProgress,
    #[error("the bids of this work have not been evaluated yet")]
    EvaluationPending,
    #[error("no valid bid is left to award")]
    NoValidBids,
    #[error("the evaluation disqualified this bid")]
    BidDisqualified,
    #[error("this bid has expired")]
    BidExpired,
    #[error("insufficient available funds for the escrow hold")]
    InsufficientFunds,
    /// Settlement refused the hold for another reason; its code and message are passed on.
    #[error("{message}")]
    HoldRefused { code: String, message: String },
    #[error("settlement is unavailable; nothing was awarded, try again")]
    SettlementUnavailable,
    /// The contract's state does not allow the change.
    #[error("{0}")]
    InvalidContractState(String),
    /// The caller is a party of the contract but not the one allowed to do this.
    #[error("{0}")]
    NotAllowed(String),
    /// A local resource (randomness) failed; nothing was stored.
    #[error("temporarily unavailable")]
    Unavailable,
    #[error(transparent)]
    Auth(ApiError),
    #[error("events: {0}")]
    Event(#[from] aex_common::events::EventError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<ApiError> for Error {
    fn from(error: ApiError) -> Self {
        Error::Auth(error)
    }
}

impl From<aex_types::MoneyError> for Error {
    fn from(error: aex_types::MoneyError) -> Self {
        Error::InvalidAmount { code: error.code(), message: error.to_string().into() }
    }
}

impl From<crate::domain::work::InvalidTransition> for Error {
    fn from(error: crate::domain::work::InvalidTransition) -> Self {
        Error::InvalidWorkState { from: error.from.as_str(), to: error.to.as_str() }
    }
}

impl From<crate::domain::contract::Refusal> for Error {
    fn from(refusal: crate::domain::contract::Refusal) -> Self {
        use crate::domain::contract::Refusal;
        match refusal {
            Refusal::NotAllowed { .. } => Error::NotAllowed(refusal.to_string()),
            Refusal::InvalidState { .. } => Error::InvalidContractState(refusal.to_string()),
        }
    }
}

impl Error {
    pub fn validation(message: impl Into<Cow<'static, str>>) -> Self {
        Error::Validation(message.into())
    }

    fn api(&self) -> ApiError {
        let conflict = |code: &'static str| ApiError::new(StatusCode::CONFLICT, code, self.to_string());
        match self {
            Error::Validation(message) => ApiError::bad_request("VALIDATION_ERROR", message.clone()),
            Error::InvalidAmount { code, message } => ApiError::bad_request(code, message.clone()),
            Error::NotFound => ApiError::not_found("not found"),
            Error::ProviderNotFound => ApiError::new(StatusCode::NOT_FOUND, "PROVIDER_NOT_FOUND", self.to_string()),
            Error::ProviderNameTaken => conflict("PROVIDER_NAME_TAKEN"),
            Error::ProviderExists => conflict("PROVIDER_ALREADY_EXISTS"),
            Error::InvalidWorkState { .. } => conflict("INVALID_WORK_STATE"),
            Error::WorkNotOpen => conflict("WORK_NOT_OPEN"),
            Error::BidWindowClosed => conflict("BID_WINDOW_CLOSED"),
            Error::BidsSealed => conflict("BIDS_SEALED"),
            Error::OwnWork => conflict("CANNOT_BID_ON_OWN_WORK"),
            Error::BidNotFound => ApiError::new(StatusCode::NOT_FOUND, "BID_NOT_FOUND", self.to_string()),
            Error::AlreadyAwarded => conflict("WORK_ALREADY_AWARDED"),
            Error::AwardInProgress => conflict("AWARD_IN_PROGRESS"),
            Error::EvaluationPending => conflict("EVALUATION_PENDING"),
            Error::NoValidBids => conflict("NO_VALID_BIDS"),
            Error::BidDisqualified => conflict("BID_DISQUALIFIED"),
            Error::BidExpired => conflict("BID_EXPIRED"),
            Error::InsufficientFunds => {
                ApiError::new(StatusCode::PAYMENT_REQUIRED, "INSUFFICIENT_FUNDS", self.to_string())
            }
            Error::HoldRefused { code, message } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code.clone(), message.clone())
            }
            Error::SettlementUnavailable => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "SETTLEMENT_UNAVAILABLE", self.to_string())
            }
            Error::InvalidContractState(_) => conflict("INVALID_CONTRACT_STATE"),
            Error::NotAllowed(message) => ApiError::forbidden("NOT_ALLOWED", message.clone()),
            Error::Unavailable => ApiError::service_unavailable("temporarily unavailable, try again"),
            Error::Auth(error) => error.clone(),
            Error::Event(error) => {
                tracing::error!(%error, "event error");
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

/// The name of the constraint a database error violated, if any.
pub fn violated_constraint(error: &sqlx::Error) -> Option<&str> {
    match error {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// Turns the violation of one named constraint into a client error; everything else stays.
pub trait ResultExt<T> {
    fn on_constraint(self, name: &str, to: impl FnOnce() -> Error) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T, sqlx::Error> {
    fn on_constraint(self, name: &str, to: impl FnOnce() -> Error) -> Result<T> {
        match self {
            Err(error) if violated_constraint(&error) == Some(name) => Err(to()),
            other => other.map_err(Error::from),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_status_and_code() {
        let cases: Vec<(Error, u16, &str)> = vec![
            (Error::validation("name is required"), 400, "VALIDATION_ERROR"),
            (Error::from(aex_types::MoneyError::ExponentNotation), 400, "INVALID_AMOUNT"),
            (Error::NotFound, 404, "NOT_FOUND"),
            (Error::ProviderNotFound, 404, "PROVIDER_NOT_FOUND"),
            (Error::ProviderNameTaken, 409, "PROVIDER_NAME_TAKEN"),
            (Error::ProviderExists, 409, "PROVIDER_ALREADY_EXISTS"),
            (Error::InvalidWorkState { from: "COMPLETED", to: "CANCELLED" }, 409, "INVALID_WORK_STATE"),
            (Error::WorkNotOpen, 409, "WORK_NOT_OPEN"),
            (Error::BidWindowClosed, 409, "BID_WINDOW_CLOSED"),
            (Error::BidsSealed, 409, "BIDS_SEALED"),
            (Error::OwnWork, 409, "CANNOT_BID_ON_OWN_WORK"),
            (Error::BidNotFound, 404, "BID_NOT_FOUND"),
            (Error::AlreadyAwarded, 409, "WORK_ALREADY_AWARDED"),
            (Error::AwardInProgress, 409, "AWARD_IN_PROGRESS"),
            (Error::EvaluationPending, 409, "EVALUATION_PENDING"),
            (Error::NoValidBids, 409, "NO_VALID_BIDS"),
            (Error::BidDisqualified, 409, "BID_DISQUALIFIED"),
            (Error::BidExpired, 409, "BID_EXPIRED"),
            (Error::InsufficientFunds, 402, "INSUFFICIENT_FUNDS"),
            (Error::HoldRefused { code: "FEE_EXCEEDS_PRICE".into(), message: "m".into() }, 422, "FEE_EXCEEDS_PRICE"),
            (Error::SettlementUnavailable, 503, "SETTLEMENT_UNAVAILABLE"),
            (Error::InvalidContractState("c".into()), 409, "INVALID_CONTRACT_STATE"),
            (Error::NotAllowed("n".into()), 403, "NOT_ALLOWED"),
            (Error::Database(sqlx::Error::PoolTimedOut), 500, "INTERNAL_ERROR"),
        ];
        for (error, status, code) in cases {
            let api = error.api();
            assert_eq!((api.status.as_u16(), api.code.as_ref()), (status, code), "{error:?}");
        }
        let internal = Error::Database(sqlx::Error::Protocol("secret detail".into())).api();
        assert!(!internal.message.contains("secret"), "internal causes never reach the client");
    }
}
