//! The evaluator's pure rules: no I/O, table- and property-tested.

pub mod scoring;
