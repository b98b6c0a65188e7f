//! Signed webhook notifications to providers (ARCHITECTURE.md §5 rule 6).
//!
//! Deliveries are written in the same transaction as the work they announce, then sent by a
//! dispatcher that never blocks the submission: each attempt is recorded, failures are retried
//! with exponential backoff and jitter, and a delivery is given up after the configured
//! number of attempts. Every request carries
//! - `X-Webhook-Signature: sha256=<hex>`: HMAC-SHA256 with the subscription's secret over
//!   `<timestamp>.<body>`, so a receiver can check both origin and freshness;
//! - `X-Webhook-Timestamp` (Unix seconds), `X-Webhook-Event-Id`, `X-Webhook-Event` and
//!   `X-Webhook-Delivery-Id` / `X-Webhook-Attempt`.
//!
//! Redirects are not followed.

use crate::store::webhooks::{self, Attempt, DueDelivery};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub const SIGNATURE_HEADER: &str = "x-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-webhook-timestamp";
pub const EVENT_ID_HEADER: &str = "x-webhook-event-id";
pub const EVENT_HEADER: &str = "x-webhook-event";
pub const DELIVERY_HEADER: &str = "x-webhook-delivery-id";
pub const ATTEMPT_HEADER: &str = "x-webhook-attempt";

/// Deliveries sent per pass.
const BATCH: i64 = 32;
/// How long a claimed delivery stays with its dispatcher; longer than a request's timeout.
const LEASE: Duration = Duration::from_secs(30);
/// Time a receiver has to answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest delay between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// `sha256=<hex>` of `<timestamp>.<body>` under `secret`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length, so this never fails; an empty MAC would not verify.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A fresh signing secret for a subscription that did not bring its own.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("whsec_{}", hex::encode(bytes)))
}

/// Retry policy of the dispatcher.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_backoff: Duration,
}

impl RetryPolicy {
    /// Delay before attempt `attempt + 1` after `attempt` failed (1-based), with ±20 % jitter;
    /// `None` once the attempts are used up.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let base = self.first_backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(MAX_BACKOFF);
        let jitter_percent = 80 + fastrand::u32(0..=40);
        Some(base.saturating_mul(jitter_percent) / 100)
    }
}

/// Sends due deliveries until shutdown.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    pool: PgPool,
    client: reqwest::Client,
    policy: RetryPolicy,
    poll: Duration,
}

impl Dispatcher {
    pub fn new(pool: PgPool, policy: RetryPolicy, poll: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("AEX-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { pool, client, policy, poll })
    }

    /// Sends every delivery due now, concurrently; returns how many attempts were made.
    pub async fn dispatch_due(&self) -> Result<usize, sqlx::Error> {
        let lease_ms = i64::try_from(LEASE.as_millis()).unwrap_or(30_000);
        let due = webhooks::claim_due(&self.pool, BATCH, lease_ms).await?;
        let attempts = futures::future::join_all(due.iter().map(|d| self.attempt(d))).await;
        let mut tx = self.pool.begin().await?;
        for attempt in &attempts {
            webhooks::record(&mut tx, attempt).await?;
        }
        tx.commit().await?;
        Ok(attempts.len())
    }

    async fn attempt(&self, delivery: &DueDelivery) -> Attempt {
        let number = delivery.attempts.saturating_add(1);
        let started_at = aex_types::Timestamp::now();
        let clock = Instant::now();
        let body = serde_json::to_vec(&delivery.payload).unwrap_or_default();
        let timestamp = started_at.unix_millis().div_euclid(1000);
        let mut request = self
            .client
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(EVENT_ID_HEADER, &delivery.event_id)
            .header(EVENT_HEADER, &delivery.event_type)
            .header(DELIVERY_HEADER, &delivery.id)
            .header(ATTEMPT_HEADER, number.to_string());
        if let Some(secret) = &delivery.secret {
            request = request.header(SIGNATURE_HEADER, signature(secret.as_bytes(), timestamp, &body));
        }
        let result = request.body(body).send().await;
        let duration_ms = i32::try_from(clock.elapsed().as_millis()).unwrap_or(i32::MAX);
        let (status_code, error, delivered) = match result {
            Ok(response) if response.status().is_success() => (Some(response.status().as_u16()), None, true),
            Ok(response) => (Some(response.status().as_u16()), Some(format!("answered {}", response.status())), false),
            // Without the URL: a receiver's address may carry a token.
            Err(error) => (None, Some(describe(&error)), false),
        };
        let retry_in_ms = if delivered {
            None
        } else {
            self.policy
                .delay_after(u32::try_from(number).unwrap_or(u32::MAX))
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        };
        if !delivered {
            tracing::info!(delivery_id = %delivery.id, attempt = number, error = error.as_deref().unwrap_or(""),
                gives_up = retry_in_ms.is_none(), "webhook delivery failed");
        }
        Attempt {
            delivery_id: delivery.id.clone(),
            attempt: number,
            started_at,
            duration_ms,
            status_code: status_code.map(i32::from),
            error,
            delivered,
            retry_in_ms,
        }
    }

    /// Polls until `shutdown`, waking at the next due delivery; errors are logged and retried.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(task = "webhook-dispatcher", "started");
        loop {
            let mut sleep = self.poll;
            match self.dispatch_due().await {
                Ok(sent) if sent as i64 == BATCH => sleep = Duration::ZERO,
                Ok(_) => {
                    if let Ok(Some(next_ms)) = webhooks::next_due_in_ms(&self.pool).await {
                        sleep = sleep.min(Duration::from_millis(u64::try_from(next_ms.max(1)).unwrap_or(1)));
                    }
                }
                Err(error) => tracing::warn!(task = "webhook-dispatcher", %error, "dispatching webhooks failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(sleep) => {}
            }
        }
        tracing::info!(task = "webhook-dispatcher", "stopped");
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection failed".into()
    } else if error.is_redirect() {
        "redirect refused".into()
    } else {
        "request failed".into()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // RFC 4231 test case 2 has key "Jefe" over "what do ya want for nothing?"; here the
        // message is split as "<timestamp>.<body>" to show the exact bytes signed.
        let sig = signature(b"Jefe", 0, b"what do ya want for nothing?");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        assert_eq!(sig, format!("sha256={}", hex::encode(mac.finalize().into_bytes())));
        assert_ne!(signature(b"Jefe", 1, b"x"), signature(b"Jefe", 2, b"x"), "the timestamp is signed");
    }

    #[test]
    fn backoff_doubles_with_jitter_until_the_attempts_run_out() {
        let policy = RetryPolicy { max_attempts: 4, first_backoff: Duration::from_millis(1000) };
        for (attempt, base) in [(1u32, 1000u64), (2, 2000), (3, 4000)] {
            let delay = policy.delay_after(attempt).unwrap().as_millis() as u64;
            assert!((base * 8 / 10..=base * 12 / 10).contains(&delay), "attempt {attempt}: {delay} ms");
        }
        assert!(policy.delay_after(4).is_none());
    }

    #[test]
    fn generated_secrets_are_distinct_and_prefixed() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert!(a.starts_with("whsec_") && a.len() == 6 + 64);
        assert_ne!(a, b);
    }
}
