//! Pure rules of the gateway: the API key format, scopes, tenant input, credential validity
//! and the route table. No I/O here; everything is unit- and property-tested.

pub mod api_key;
pub mod credential;
pub mod idempotency;
pub mod ratelimit;
pub mod route;
pub mod scope;
pub mod tenant;
pub mod throttle;

/// A rejected input field: which one, and why (safe to show the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}
