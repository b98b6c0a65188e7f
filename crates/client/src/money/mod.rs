//! Money (settlement): balance, deposits and withdrawals, usage, ledger accounts and
//! transfers, contract escrow and signed receipts, fees, audits and the market feed.
//!
//! Amounts go out as exact decimal strings built from [`aex_types::Money`] and come back as
//! the decimal string plus the exact `*_minor` integer; nothing passes through a float.
//!
//! ```no_run
//! use aex_client::money::{Funds, NewTransfer};
//! use aex_types::{AccountId, Currency, Money};
//!
//! # async fn demo(client: aex_client::Client, payee: AccountId) -> aex_client::Result<()> {
//! // The same key twice: one deposit.
//! let funds = Funds::new(Money::from_minor(10_000, Currency::USD));
//! client.deposits().idempotency_key("topup-2026-11-21").create(&funds).await?;
//! client.deposits().idempotency_key("topup-2026-11-21").create(&funds).await?;
//! let balance = client.balance().get(Some(Currency::USD)).await?;
//! println!("available: {}", balance.available());
//!
//! let mine = client.accounts().list().await?.accounts.remove(0);
//! let batch = client
//!     .transfers()
//!     .create_batch(&[
//!         NewTransfer::posted("pay-1", mine.id.clone(), payee.clone(), Money::from_minor(2_500, Currency::USD)),
//!         NewTransfer::posted("pay-2", mine.id, payee, Money::from_minor(1_000_000, Currency::USD)),
//!     ])
//!     .await?;
//! for item in &batch.results {
//!     println!("{} {}", item.id, item.result); // pay-1 OK, pay-2 INSUFFICIENT_FUNDS
//! }
//! # Ok(())
//! # }
//! ```

mod audit;
mod fees;
mod funds;
mod settlements;
mod transfers;

pub use audit::{
    Audit, ChainBreak, DealReplay, JournalExport, JournalLink, JournalVerification, Revenue, RevenueItem, SignedHead,
};
pub use fees::{FeePolicy, Fees, Market, MarketFeed, MarketLine, ProtocolFeeTier, ProviderTier};
pub use funds::{Balance, Balances, Deposits, Funds, Usage, UsageReports, Withdrawals};
pub use settlements::{ReceiptKey, ReceiptKeys, ReceiptVerification, Settlement, Settlements, SignedReceipt};
pub use transfers::{
    Account, AccountList, Accounts, BatchResult, MAX_BATCH, NewTransfer, Transfer, TransferResult, Transfers,
};
