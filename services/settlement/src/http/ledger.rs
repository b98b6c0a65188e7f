//! The ledger between settlement instances (ADR 0014): `POST /internal/v1/ledger/batches`,
//! where the elected writer takes the batches the other instances hand to it, and
//! `GET /internal/v1/ledger/writer`, which says who writes. Settlement instances only.

use crate::AppState;
use crate::error::{Error, Result};
use crate::ledger::WriterStatus;
use crate::ledger::handoff::{HandoffRequest, HandoffResponse};
use aex_common::auth::Principal;
use aex_common::server::ApiError;
use axum::body::Bytes;
use axum::extract::State;

/// Only another settlement instance hands batches over: their requests carry the authority
/// that instance already established for its callers.
fn require_settlement(principal: &Principal) -> Result<()> {
    principal.require_service()?;
    if principal.caller == crate::SERVICE {
        Ok(())
    } else {
        Err(ApiError::forbidden("SERVICE_ONLY", "this route is for settlement instances").into())
    }
}

pub async fn handoff(
    State(state): State<AppState>,
    principal: Principal,
    body: Bytes,
) -> Result<axum::Json<HandoffResponse>> {
    require_settlement(&principal)?;
    // The body is another instance's own serialization of requests that already passed the
    // input policy there; it is parsed, not re-screened.
    let request: HandoffRequest =
        serde_json::from_slice(&body).map_err(|error| Error::validation(format!("not a ledger handoff: {error}")))?;
    let jobs = request.jobs.into_iter().map(|job| job.requests).collect();
    let results = state.ledger.commit_handed_off(jobs).await;
    Ok(axum::Json(HandoffResponse { results }))
}

pub async fn writer(State(state): State<AppState>, principal: Principal) -> Result<axum::Json<WriterStatus>> {
    require_settlement(&principal)?;
    Ok(axum::Json(state.ledger.writer_status()))
}
