//! `POST /v1/auth/token`: exchanges an API key for a short-lived access token (JWT).

use crate::AppState;
use crate::error::Error;
use crate::ratelimit::ClientAddress;
use aex_common::server::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    api_key: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    tenant_id: String,
    scopes: Vec<String>,
}

pub async fn issue(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Json(body): Json<TokenRequest>,
) -> Result<Json<TokenResponse>, Error> {
    let api_key = body
        .api_key
        .filter(|k| !k.trim().is_empty())
        .ok_or(Error::Validation { field: "api_key", message: "api_key is required".into() })?;
    let caller = state.auth.by_api_key(api_key.trim(), client).await?;
    let tokens = state.auth.tokens();
    let access_token = tokens.issue(&caller.key_id, &caller.tenant_id, &caller.scopes)?;
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: tokens.ttl().as_secs(),
        tenant_id: caller.tenant_id,
        scopes: caller.scopes,
    }))
}
