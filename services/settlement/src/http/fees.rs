//! `GET /v1/fees/policy`: the fee policy in force.

use crate::domain::fees::FeePolicy;
use aex_common::server::Json;

pub async fn policy() -> Json<FeePolicy> {
    Json(FeePolicy::current())
}
