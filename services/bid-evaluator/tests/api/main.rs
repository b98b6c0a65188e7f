//! The bid-evaluator service through its real HTTP stack, on real Postgres and NATS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod certified;
mod evaluation;
mod operations;

use aex_testkit::{RunningService, ServiceUnderTest};
use clap::Parser;

/// Starts the real service on 127.0.0.1:0 in its own schema and NATS namespace.
pub async fn start() -> (RunningService, ServiceUnderTest) {
    let sut = ServiceUnderTest::new("aex-bid-evaluator", aex_bid_evaluator::SCHEMA);
    let config = aex_bid_evaluator::Config::try_parse_from(sut.args()).expect("test configuration parses");
    let running =
        aex_testkit::spawn_service(|listener, shutdown| aex_bid_evaluator::run(config, listener, shutdown)).await;
    (running, sut)
}
