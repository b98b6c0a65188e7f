//! AEX wire types: what clients and services exchange over HTTP and NATS. Depends on
//! `aex-types` only, so the SDK and CLI can use it without the server runtime.

pub mod error;
pub mod events;
pub mod limits;

pub use error::{ErrorBody, ErrorEnvelope};
