//! Tests of aex-types as its users see it: one test binary, a module per type.

// A failing unwrap is a failing test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod currency;
mod id;
mod money;
mod rounding;
mod timestamp;
