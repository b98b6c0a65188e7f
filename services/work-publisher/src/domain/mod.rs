//! Work-publisher's pure rules: the work and contract state machines and subscription
//! matching. No I/O.

pub mod contract;
pub mod matching;
pub mod work;
