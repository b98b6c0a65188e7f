//! The marketplace (work-publisher): provider profiles, subscriptions, work, sealed bids,
//! awards and contracts.
//!
//! A consumer publishes work with a budget, providers subscribed to its category bid while the
//! window is open, and the consumer (or `auto_award`) awards the best bid as a contract:
//!
//! ```no_run
//! use aex_client::Client;
//! use aex_client::marketplace::{Award, Budget, NewWork};
//! use aex_types::{Currency, Money};
//!
//! # async fn demo(consumer: Client) -> aex_client::Result<()> {
//! let budget = Budget::new(Money::parse_decimal("25.00", Currency::USD).map_err(|e| aex_client::Error::InvalidInput(e.to_string()))?);
//! let work = consumer
//!     .work()
//!     .submit(&NewWork::new("translation.legal", "Translate the NDA into German", budget))
//!     .await?;
//! // ... after the bid window closed:
//! let bids = consumer.bids().for_work(&work.work_id).await?;
//! if let Some(best) = bids.bids.first() {
//!     let contract = consumer.contracts().award(&work.work_id, &Award::Bid(best.bid_id.clone())).await?;
//!     println!("{} at {}", contract.contract_id, contract.agreed_price());
//! }
//! # Ok(())
//! # }
//! ```

mod contracts;
mod providers;
mod subscriptions;
mod work;

pub use contracts::{
    Award, Completion, Contract, ContractFailure, ContractProgress, ContractResult, Contracts, ProgressReport,
};
pub use providers::{
    AgentCard, AgentCardStatus, AgentSkill, CreatedProvider, NewProvider, Provider, ProviderList, ProviderSearch,
    Providers,
};
pub use subscriptions::{
    Delivery, DeliveryMethod, DeliveryView, FiltersView, NewSubscription, Subscription, SubscriptionFilters,
    SubscriptionList, Subscriptions,
};
pub use work::{
    Bid, BidList, BidStrategy, Bids, Budget, BudgetView, Constraints, ListWork, NewBid, NewWork, ReceivedBid, Sla,
    SubmittedWork, Work, WorkItem,
};
