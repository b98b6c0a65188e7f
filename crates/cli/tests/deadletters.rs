//! `aex deadletter list` and `replay` against the real NATS of the local stack: dead letters
//! written by aex-common's own dead-letter code in a namespace of this test, listed by service,
//! and one replayed to its original subject.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aex_cli::cli::{Cli, NatsOptions, Service};
use aex_cli::deadletters;
use aex_common::events::deadletter::{self, DeadLetter};
use aex_common::events::{EventBus, NatsArgs};
use clap::Parser;
use futures::StreamExt;
use serde_json::json;
use std::time::Duration;

const SUBJECT: &str = "contract.awarded";

/// `aex deadletter ARGS…` in `namespace`, through the library entry the binary uses.
async fn aex(namespace: &str, args: &[&str]) -> Result<(), aex_cli::output::CliError> {
    let url = aex_testkit::nats_url();
    let mut line = vec!["aex", "deadletter", "--nats-url", url.as_str(), "--nats-namespace", namespace];
    line.extend_from_slice(args);
    aex_cli::run(Cli::try_parse_from(line).unwrap()).await
}

fn envelope(event_id: &str) -> serde_json::Value {
    json!({
        "event_id": event_id, "event_type": SUBJECT, "schema_version": 1,
        "occurred_at": "2026-11-21T08:00:00Z", "source": "work-publisher", "tenant_id": null,
        "data": { "contract_id": "contract_1", "price": "72.50" },
    })
}

/// How many events the CONTRACT stream of the bus's namespace holds.
async fn contract_events(bus: &EventBus) -> u64 {
    let name = bus.stream_name("CONTRACT");
    bus.jetstream().get_stream(&name).await.unwrap().info().await.unwrap().state.messages
}

#[tokio::test]
async fn dead_letters_are_listed_by_service_and_replayed_to_their_original_subject() {
    aex_testkit::init();
    let namespace = aex_testkit::unique_namespace();
    let args =
        NatsArgs { nats_url: aex_testkit::nats_url(), nats_namespace: namespace.clone(), nats_stream_replicas: 1 };
    let bus = EventBus::connect(&args, "aex-cli-tests").await.unwrap();
    bus.ensure_streams().await.unwrap();

    // Two consumers of two services gave up on the same event.
    let original = envelope("evt_settle_1");
    let body = serde_json::to_vec(&original).unwrap();
    for (consumer, error) in [
        ("settlement-contracts", "retryable: database: pool timed out"),
        ("certauth-contracts", "permanent: undecodable contract.awarded payload"),
    ] {
        let letter = DeadLetter::new(consumer, SUBJECT, "CONTRACT", 41, Some("evt_settle_1"), &body, error.into(), 5);
        deadletter::publish(&bus, &letter).await.unwrap();
    }

    // list: every letter, or only a service's.
    let nats = NatsOptions { nats_url: aex_testkit::nats_url(), nats_namespace: namespace.clone() };
    let bus_of_cli = deadletters::connect(&nats).await.unwrap();
    let all = deadletters::collect(&bus_of_cli, None, 0, 50).await.unwrap();
    let consumers: Vec<(u64, &str)> = all.iter().map(|s| (s.sequence, s.letter.consumer.as_str())).collect();
    assert_eq!(consumers, vec![(1, "settlement-contracts"), (2, "certauth-contracts")]);
    let settlement = deadletters::collect(&bus_of_cli, Some(Service::Settlement), 0, 50).await.unwrap();
    assert_eq!(settlement.len(), 1);
    let stored = &settlement[0];
    assert_eq!((stored.sequence, stored.letter.original_subject.as_str()), (1, SUBJECT));
    assert_eq!((stored.letter.attempts, stored.letter.error.as_str()), (5, "retryable: database: pool timed out"));
    assert_eq!(stored.letter.payload, original);
    assert!(deadletters::collect(&bus_of_cli, Some(Service::WorkPublisher), 0, 50).await.unwrap().is_empty());
    assert_eq!(deadletters::collect(&bus_of_cli, None, 2, 50).await.unwrap()[0].sequence, 2, "--from pages on");
    assert_eq!(deadletters::collect(&bus_of_cli, None, 0, 1).await.unwrap().len(), 1, "--limit");
    let record = deadletters::letter_json(stored);
    assert_eq!((record["seq"].clone(), record["consumer"].clone()), (json!(1), json!("settlement-contracts")));
    assert_eq!(record["payload"], original);
    aex(&namespace, &["list"]).await.unwrap();
    aex(&namespace, &["list", "--service", "certauth", "--limit", "5"]).await.unwrap();
    aex(&namespace, &["--json", "list"]).await.unwrap();

    // replay: refused for an unknown sequence or another service's letter, before any publish.
    let error = aex(&namespace, &["replay", "99"]).await.unwrap_err();
    assert_eq!(error.code(), "NOT_FOUND", "{error}");
    let error = aex(&namespace, &["replay", "0"]).await.unwrap_err();
    assert_eq!(error.code(), "NOT_FOUND", "{error}");
    let error = aex(&namespace, &["replay", "1", "--service", "certauth"]).await.unwrap_err();
    assert_eq!(error.code(), "MISMATCH");
    assert!(error.message().contains("settlement-contracts"), "{}", error.message());
    assert_eq!(contract_events(&bus).await, 0, "a refused replay publishes nothing");

    // The replay arrives on the original subject with the original event.
    let mut arrivals = bus.client().subscribe(bus.subject(SUBJECT)).await.unwrap();
    bus.client().flush().await.unwrap();
    aex(&namespace, &["replay", "1", "--service", "settlement"]).await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(10), arrivals.next())
        .await
        .expect("the replayed event arrives")
        .unwrap();
    assert_eq!(message.subject.as_str(), bus.subject(SUBJECT));
    let replayed: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(replayed, original);
    assert_eq!(contract_events(&bus).await, 1, "stored in the CONTRACT stream for the consumers");
}

#[tokio::test]
async fn an_unreachable_nats_is_a_readable_error() {
    aex_testkit::init();
    let nats = NatsOptions {
        nats_url: format!("nats://u:secret@127.0.0.1:{}", aex_testkit::free_port()),
        nats_namespace: String::new(),
    };
    let error = deadletters::connect(&nats).await.unwrap_err();
    assert_eq!(error.code(), "EVENT_BUS");
    assert!(error.render().contains("cannot connect to NATS at nats://***@127.0.0.1:"), "{}", error.render());
    assert!(!error.render().contains("secret"));
}
