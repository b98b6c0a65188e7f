//! The typed Rust SDK of the AEX public API, through the gateway.
//!
//! One [`Client`] per credential; resource handles group the routes of API.md:
//!
//! | Area | Module | Handles |
//! |---|---|---|
//! | gateway and identity | [`identity`], [`auth`] | [`Client::tenants`], [`Client::api_keys`], [`Client::auth`], [`Client::gateway`] |
//! | marketplace | [`marketplace`] | [`Client::providers`], [`Client::subscriptions`], [`Client::work`], [`Client::bids`], [`Client::contracts`] |
//! | evaluation | [`evaluation`] | [`Client::evaluations`] |
//! | money | [`money`] | [`Client::balance`], [`Client::deposits`], [`Client::withdrawals`], [`Client::usage`], [`Client::accounts`], [`Client::transfers`], [`Client::settlements`], [`Client::fees`], [`Client::audit`], [`Client::market`] |
//! | certificates and reputation | [`certificates`] | [`Client::certificates`], [`Client::ca`], [`Client::reputation`] |
//!
//! What every call shares:
//! - **Credentials**: an API key (`X-API-Key`), a bearer token, or an API key exchanged for a
//!   JWT that the client renews before it expires ([`ClientBuilder::exchange_for_token`]).
//! - **Idempotency**: every mutating call sends an `Idempotency-Key` — a fresh UUID v4, or the
//!   caller's via `.idempotency_key(..)` on a handle — and the client's own retries of transient
//!   failures reuse it, so a retry never doubles an effect.
//! - **Errors**: [`Error::Api`] carries the status and the stable code of the error envelope
//!   ([`Error::code`], [`Error::is_not_found`], [`Error::is_rate_limited`] with
//!   [`Error::retry_after`], ...).
//! - **Pagination**: `limit`/`offset` lists return a [`Page`]; `*_all` methods stream every
//!   item across pages.
//! - **Money**: requests take exact [`aex_types::Money`] and send decimal strings; answers carry
//!   the decimal string and the exact `*_minor` integer. No floats.
//! - **Rate limits**: [`Client::last_rate_limit`] reads the latest `X-RateLimit-*` headers.
//!
//! # Quick start
//!
//! ```no_run
//! use aex_client::money::Funds;
//! use aex_client::{Client, PageParams};
//! use aex_types::{Currency, Money};
//! use futures::TryStreamExt;
//!
//! # async fn demo() -> aex_client::Result<()> {
//! let client = Client::builder("http://127.0.0.1:8080").api_key("aexk_…").exchange_for_token().build()?;
//!
//! // Deposit $100 once, however often this line is retried with the same key.
//! let deposit = client
//!     .deposits()
//!     .idempotency_key("topup-2026-11-21")
//!     .create(&Funds::new(Money::from_minor(10_000, Currency::USD)))
//!     .await?;
//! println!("deposited {} as {}", deposit.amount(), deposit.id);
//!
//! match client.balance().get(Some(Currency::USD)).await {
//!     Ok(balance) => println!("available {}", balance.available()),
//!     Err(error) if error.is_rate_limited() => println!("slow down for {:?}", error.retry_after()),
//!     Err(error) => return Err(error),
//! }
//!
//! // Every transaction, across pages of 100.
//! let all: Vec<_> = client.usage().transactions_all(PageParams::limit(100)).try_collect().await?;
//! println!("{} transactions", all.len());
//! # Ok(())
//! # }
//! ```

pub mod auth;
pub mod certificates;
mod client;
mod decimal;
mod error;
pub mod evaluation;
pub mod identity;
pub mod marketplace;
pub mod money;
mod page;

pub use auth::{AccessToken, Auth, Secret};
pub use client::{Client, ClientBuilder, RateLimit, RequestOptions};
pub use error::{Error, Result};
pub use page::{Page, PageParams};

impl Client {
    /// Token exchange (`POST /v1/auth/token`).
    pub fn auth(&self) -> Auth<'_> {
        Auth::new(self)
    }
}
