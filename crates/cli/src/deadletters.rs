//! `aex deadletter`: the events consumers gave up on, read from the DEADLETTER stream and
//! replayed to their original subjects with aex-common's own dead-letter code. Dead letters are
//! behind no HTTP API, so these commands talk to NATS directly.

use crate::cli::{DeadletterArgs, DeadletterCommand, NatsOptions, Service};
use crate::output::{CliError, Out, table};
use aex_common::events::deadletter::{self, StoredDeadLetter};
use aex_common::events::{EventBus, EventError, NatsArgs};
use serde_json::{Value, json};
use std::time::Duration;

type Result<T> = std::result::Result<T, CliError>;

/// How long a command waits for NATS before calling it unreachable.
const CONNECT_WAIT: Duration = Duration::from_secs(5);

/// Dead letters read from the stream per request while filtering.
const PAGE: usize = 100;

/// The event bus of `nats`, once NATS has answered.
pub async fn connect(nats: &NatsOptions) -> Result<EventBus> {
    let args = NatsArgs {
        nats_url: nats.nats_url.clone(),
        nats_namespace: nats.nats_namespace.clone(),
        nats_stream_replicas: 1,
    };
    let bus = EventBus::connect(&args, concat!("aex-cli/", env!("CARGO_PKG_VERSION"))).await?;
    // The bus connects in the background (a service starts while NATS is down); a command
    // should instead say at once that NATS is not there.
    let unreachable = |message: String| CliError::Events(EventError::Connect { url: args.nats_url.clone(), message });
    match tokio::time::timeout(CONNECT_WAIT, bus.client().flush()).await {
        Ok(Ok(())) => Ok(bus),
        Ok(Err(error)) => Err(unreachable(error.to_string())),
        Err(_) => Err(unreachable(format!("no answer within {} s", CONNECT_WAIT.as_secs()))),
    }
}

/// Up to `limit` dead letters from stream sequence `from` on, oldest first; only those of
/// `service`'s consumers when it is given.
pub async fn collect(
    bus: &EventBus,
    service: Option<Service>,
    from: u64,
    limit: usize,
) -> Result<Vec<StoredDeadLetter>> {
    let mut found = Vec::new();
    let mut next = from;
    while found.len() < limit {
        let page = deadletter::list(bus, next, PAGE).await?;
        let Some(last) = page.last() else { break };
        next = last.sequence + 1;
        let end_of_stream = page.len() < PAGE;
        found.extend(page.into_iter().filter(|stored| service.is_none_or(|s| s.owns(&stored.letter.consumer))));
        if end_of_stream {
            break;
        }
    }
    found.truncate(limit);
    Ok(found)
}

/// The dead letter at `seq`, refused when there is none or it is not of `service`.
pub async fn find(bus: &EventBus, seq: u64, service: Option<Service>) -> Result<StoredDeadLetter> {
    let stored =
        deadletter::list(bus, seq, 1).await?.into_iter().find(|stored| stored.sequence == seq).ok_or_else(|| {
            CliError::NotFound(format!("no dead letter at sequence {seq} of {}", bus.stream_name("DEADLETTER")))
        })?;
    if let Some(service) = service
        && !service.owns(&stored.letter.consumer)
    {
        return Err(CliError::Mismatch(format!(
            "dead letter {seq} is of consumer {}, not of a {} consumer",
            stored.letter.consumer,
            service.name()
        )));
    }
    Ok(stored)
}

/// A dead letter for scripts: its sequence and the whole stored record.
pub fn letter_json(stored: &StoredDeadLetter) -> Value {
    let mut value = json!({ "seq": stored.sequence });
    if let (Some(object), Ok(Value::Object(letter))) = (value.as_object_mut(), serde_json::to_value(&stored.letter)) {
        object.extend(letter);
    }
    value
}

/// One table row: seq, time, consumer, original subject, attempts, error (on one line).
fn letter_row(stored: &StoredDeadLetter) -> Vec<String> {
    let letter = &stored.letter;
    vec![
        stored.sequence.to_string(),
        letter.failed_at.to_string(),
        letter.consumer.clone(),
        letter.original_subject.clone(),
        letter.attempts.to_string(),
        letter.error.split_whitespace().collect::<Vec<_>>().join(" "),
    ]
}

pub async fn deadletter(out: Out, args: DeadletterArgs) -> Result<()> {
    let bus = connect(&args.nats).await?;
    match args.command {
        DeadletterCommand::List { service, limit, from } => {
            let letters = collect(&bus, service, from, limit as usize).await?;
            let rows: Vec<Vec<String>> = letters.iter().map(letter_row).collect();
            out.result(
                || {
                    if letters.is_empty() {
                        format!("no dead letters in {}", bus.stream_name("DEADLETTER"))
                    } else {
                        table(&["seq", "failed at", "consumer", "subject", "attempts", "error"], &rows)
                    }
                },
                &json!(letters.iter().map(letter_json).collect::<Vec<_>>()),
            );
        }
        DeadletterCommand::Replay { seq, service } => {
            let stored = find(&bus, seq, service).await?;
            let letter = deadletter::replay(&bus, stored.sequence).await?;
            let subject = bus.subject(&letter.original_subject);
            let value = json!({
                "replayed": seq, "subject": subject, "original_subject": letter.original_subject,
                "event_id": letter.event_id, "consumer": letter.consumer, "attempts": letter.attempts,
            });
            out.result(
                || {
                    format!(
                        "replayed dead letter {seq} of {}: event {} republished to {subject} (it had failed {} times: {})",
                        letter.consumer,
                        letter.event_id.as_deref().unwrap_or("(no event id)"),
                        letter.attempts,
                        letter.error
                    )
                },
                &value,
            );
        }
    }
    Ok(())
}
