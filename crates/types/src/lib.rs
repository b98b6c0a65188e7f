//! Value types every AEX crate shares: exact [`Money`] in a [`Currency`], typed prefixed ids,
//! and UTC [`Timestamp`]s. Mechanism only: no domain rules live here.

pub mod currency;
pub mod id;
pub mod money;
#[cfg(feature = "sqlx")]
mod sql;
pub mod timestamp;

pub use currency::Currency;
pub use id::{
    AccountId, ApiKeyId, BidId, CertRequestId, CertificateId, ContractId, EvaluationId, EventId, IdError, ProviderId,
    ReceiptId, RequestId, SubscriptionId, TenantId, TransferId, WebhookDeliveryId, WorkId,
};
pub use money::{Money, MoneyError, div_round_half_even};
pub use timestamp::{Timestamp, TimestampError};

/// Re-exports used by [`define_id!`](crate::define_id) so crates calling it need no serde dependency of their own.
#[doc(hidden)]
pub mod __private {
    pub use serde;
}
