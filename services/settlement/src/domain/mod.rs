//! Settlement's pure rules: no I/O, property-tested.

pub mod escrow;
pub mod fees;
pub mod journal;
pub mod ledger;
pub mod receipt;
