//! The work-publisher service through its real HTTP stack, on real Postgres and NATS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod operations;

use aex_testkit::{RunningService, ServiceUnderTest};
use clap::Parser;

/// Starts the real service on 127.0.0.1:0 in its own schema and NATS namespace.
pub async fn start() -> (RunningService, ServiceUnderTest) {
    let sut = ServiceUnderTest::new("aex-work-publisher", aex_work_publisher::SCHEMA);
    let config = aex_work_publisher::Config::try_parse_from(sut.args()).expect("test configuration parses");
    let running =
        aex_testkit::spawn_service(|listener, shutdown| aex_work_publisher::run(config, listener, shutdown)).await;
    (running, sut)
}
