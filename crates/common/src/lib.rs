//! Runtime infrastructure shared by every AEX service: telemetry, the HTTP server stack,
//! service authentication, the resilient HTTP client, events (outbox, relay, consumers) and
//! database access. Nothing here knows what a bid, a contract or a tenant is.

pub mod auth;
pub mod db;
pub mod events;
pub mod http_client;
pub mod keywrap;
pub mod runtime;
pub mod secret;
pub mod server;
pub mod telemetry;
pub mod trace_context;
