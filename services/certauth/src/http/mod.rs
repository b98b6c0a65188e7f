//! Certauth's HTTP API, one file per resource; handlers extract, authorize and delegate.

pub mod ca;
pub mod certificates;
pub mod crl;
pub mod reputation;
pub mod requests;

use crate::error::{Error, Result};
use crate::service::Actor;
use aex_common::auth::Principal;

/// The operator (scope `admin`), or the caller's tenant; `mutation` also requires `certs:issue`.
pub fn actor(principal: &Principal, mutation: bool) -> Result<Actor> {
    if principal.is_admin() {
        return Ok(Actor::Admin);
    }
    let tenant = principal.require_tenant()?.to_string();
    if mutation {
        principal.require_scope("certs:issue")?;
    }
    Ok(Actor::Tenant(tenant))
}

/// `/internal/*` routes answer services (any caller but the gateway) and operators.
pub fn require_internal(principal: &Principal) -> Result<()> {
    if principal.caller != "gateway" || principal.is_admin() {
        Ok(())
    } else {
        Err(Error::Auth(aex_common::server::ApiError::forbidden(
            "INSUFFICIENT_SCOPE",
            "internal routes are for services and operators",
        )))
    }
}
