//! Money movements that span several stores: deposits and withdrawals, and contract escrow
//! from hold to payout or release.

pub mod escrow;
pub mod funds;

pub use funds::{Movement, move_funds, movement_transfer_id, tenant_account};
