//! Work-publisher's pure rules: the work state machine and subscription matching. No I/O.

pub mod matching;
pub mod work;
