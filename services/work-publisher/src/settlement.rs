//! Settlement's escrow API as work-publisher uses it: the hold placed at award, and the
//! release of a hold whose award was abandoned. Calls go through the common HTTP client, so
//! they carry a service token and share the `settlement` circuit breaker. Both calls are
//! idempotent by contract id on settlement's side, so they are retried.

use crate::store::contracts::ContractRow;
use aex_api::ErrorEnvelope;
use aex_common::http_client::{CallError, Downstream, HttpClient, RequestSpec};
use aex_types::Money;
use axum::http::StatusCode;
use serde::Serialize;

/// How long an unresolved hold outlives its contract's deadline before settlement gives the
/// money back by itself (a last resort if work-publisher never reports the outcome).
pub const HOLD_GRACE: time::Duration = time::Duration::days(1);

#[derive(Debug, Clone)]
pub struct Settlement {
    client: HttpClient,
    downstream: Downstream,
}

/// What became of a hold request.
#[derive(Debug)]
pub enum HoldOutcome {
    /// The escrow is held (now or by an earlier identical request).
    Placed,
    /// Settlement refused it (no hold exists): its status, stable code and message.
    Refused { status: StatusCode, code: String, message: String },
    /// Nothing was sent (breaker open, request could not be built).
    NotSent(String),
    /// Sent, but no answer: a hold may exist.
    Unknown(String),
}

#[derive(Debug, Serialize)]
struct HoldBody<'a> {
    contract_id: &'a str,
    work_id: &'a str,
    category: &'a str,
    consumer_tenant_id: &'a str,
    provider_tenant_id: &'a str,
    provider_id: &'a str,
    amount: String,
    currency: &'a str,
    expires_at: String,
}

#[derive(Debug, Serialize)]
struct ReleaseBody<'a> {
    contract_id: &'a str,
    success: bool,
    reason: &'a str,
}

fn refusal(response: &aex_common::http_client::Response) -> (String, String) {
    match response.json::<ErrorEnvelope>() {
        Ok(envelope) => (envelope.error.code, envelope.error.message),
        Err(_) => (aex_common::server::code_for_status(response.status()).to_string(), "hold refused".to_string()),
    }
}

impl Settlement {
    pub fn new(client: HttpClient, downstream: Downstream) -> Self {
        Self { client, downstream }
    }

    /// Asks settlement to hold the contract's price in escrow until its deadline plus
    /// [`HOLD_GRACE`].
    pub async fn place_hold(&self, contract: &ContractRow) -> HoldOutcome {
        let currency = contract.currency;
        let Some(expires_at) = contract.expires_at.checked_add(HOLD_GRACE) else {
            return HoldOutcome::NotSent("the contract's expiry is out of range".into());
        };
        let expires_at = expires_at.to_string();
        let body = HoldBody {
            contract_id: &contract.id,
            work_id: &contract.work_id,
            category: &contract.category,
            consumer_tenant_id: &contract.consumer_tenant_id,
            provider_tenant_id: &contract.provider_tenant_id,
            provider_id: &contract.provider_id,
            amount: Money::from_minor(contract.agreed_price_minor, currency).to_decimal_string(),
            currency: currency.code(),
            expires_at,
        };
        let spec = RequestSpec::post("/internal/v1/holds").json(&body).idempotent(true);
        match self.client.call(&self.downstream, spec).await {
            Ok(response) if response.is_success() => HoldOutcome::Placed,
            Ok(response) if response.status().is_client_error() => {
                let (code, message) = refusal(&response);
                HoldOutcome::Refused { status: response.status(), code, message }
            }
            Ok(response) => HoldOutcome::Unknown(format!("settlement answered {}", response.status())),
            Err(error @ (CallError::CircuitOpen { .. } | CallError::InvalidRequest { .. })) => {
                HoldOutcome::NotSent(error.to_string())
            }
            Err(error) => HoldOutcome::Unknown(error.to_string()),
        }
    }

    /// Releases whatever settlement holds for an abandoned award. Done when released, already
    /// resolved (409) or never held (404).
    pub async fn release_abandoned(&self, contract_id: &str) -> Result<(), String> {
        let body = ReleaseBody { contract_id, success: false, reason: "award_aborted" };
        let spec = RequestSpec::post("/internal/settlement/complete").json(&body).idempotent(true);
        match self.client.call(&self.downstream, spec).await {
            Ok(response)
                if response.is_success()
                    || matches!(response.status(), StatusCode::NOT_FOUND | StatusCode::CONFLICT) =>
            {
                Ok(())
            }
            Ok(response) => Err(format!("settlement answered {}", response.status())),
            Err(error) => Err(error.to_string()),
        }
    }
}
