//! `GET /v1/info`: what this is, without credentials.

use aex_common::server::Json;
use serde_json::{Value, json};

pub async fn show() -> Json<Value> {
    Json(json!({ "name": "aex-gateway", "version": env!("CARGO_PKG_VERSION") }))
}
