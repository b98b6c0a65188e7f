//! Settings of the outbound HTTP client, flattened into each service's `clap` parser.

use std::time::Duration;

use super::breaker::BreakerSettings;
use super::retry::{Backoff, BackoffJitter};

/// Timeouts, retry and circuit-breaker settings (`AEX_HTTP_*`).
///
/// ```
/// use aex_common::http_client::HttpClientConfig;
///
/// #[derive(clap::Parser)]
/// struct Config {
///     #[command(flatten)]
///     http: HttpClientConfig,
/// }
/// ```
///
/// Durations are written with a unit: `250ms`, `5s`, `2m`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct HttpClientConfig {
    /// Default timeout of each attempt of an outbound call (connect, send, read the whole body).
    #[arg(long = "http-request-timeout", env = "AEX_HTTP_REQUEST_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Timeout for establishing a connection.
    #[arg(long = "http-connect-timeout", env = "AEX_HTTP_CONNECT_TIMEOUT", default_value = "1s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// Retries after the first attempt of a replayable call.
    #[arg(long = "http-max-retries", env = "AEX_HTTP_MAX_RETRIES", default_value_t = 3)]
    pub max_retries: u32,

    /// Cap of the first retry delay; each further retry doubles it.
    #[arg(long = "http-backoff-base", env = "AEX_HTTP_BACKOFF_BASE", default_value = "50ms", value_parser = parse_duration)]
    pub backoff_base: Duration,

    /// Upper bound of any retry delay, and of an honoured `Retry-After`.
    #[arg(long = "http-backoff-max", env = "AEX_HTTP_BACKOFF_MAX", default_value = "2s", value_parser = parse_duration)]
    pub backoff_max: Duration,

    /// Jitter of retry delays: `equal` (half fixed, half random) or `full`.
    #[arg(long = "http-backoff-jitter", env = "AEX_HTTP_BACKOFF_JITTER", value_enum, default_value_t = BackoffJitter::Equal)]
    pub backoff_jitter: BackoffJitter,

    /// Consecutive failures that open a downstream's circuit breaker.
    #[arg(long = "http-breaker-failure-threshold", env = "AEX_HTTP_BREAKER_FAILURE_THRESHOLD", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub breaker_failure_threshold: u32,

    /// Nominal time an open breaker fails fast before probing the downstream.
    #[arg(long = "http-breaker-open-duration", env = "AEX_HTTP_BREAKER_OPEN_DURATION", default_value = "10s", value_parser = parse_duration)]
    pub breaker_open_duration: Duration,

    /// Random spread of each open period, as a fraction of it (0.2 = ±20 %).
    #[arg(long = "http-breaker-jitter", env = "AEX_HTTP_BREAKER_JITTER", default_value_t = 0.2, value_parser = parse_fraction)]
    pub breaker_jitter: f64,

    /// Consecutive successful probes that close a half-open breaker.
    #[arg(long = "http-breaker-half-open-successes", env = "AEX_HTTP_BREAKER_HALF_OPEN_SUCCESSES", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub breaker_half_open_successes: u32,

    /// Probes allowed in flight at once while a breaker is half-open.
    #[arg(long = "http-breaker-half-open-probes", env = "AEX_HTTP_BREAKER_HALF_OPEN_PROBES", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub breaker_half_open_probes: u32,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            max_retries: 3,
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            backoff_jitter: BackoffJitter::Equal,
            breaker_failure_threshold: 5,
            breaker_open_duration: Duration::from_secs(10),
            breaker_jitter: 0.2,
            breaker_half_open_successes: 3,
            breaker_half_open_probes: 1,
        }
    }
}

impl HttpClientConfig {
    /// The circuit-breaker part of the settings.
    pub fn breaker_settings(&self) -> BreakerSettings {
        BreakerSettings {
            failure_threshold: self.breaker_failure_threshold,
            open_duration: self.breaker_open_duration,
            jitter: self.breaker_jitter,
            half_open_successes: self.breaker_half_open_successes,
            half_open_max_probes: self.breaker_half_open_probes,
        }
    }

    /// The retry-delay part of the settings.
    pub fn backoff(&self) -> Backoff {
        Backoff { base: self.backoff_base, max: self.backoff_max, jitter: self.backoff_jitter }
    }

    /// Checks what `clap` checks, for configs built in code.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let counts = [
            ("breaker_failure_threshold", self.breaker_failure_threshold),
            ("breaker_half_open_successes", self.breaker_half_open_successes),
            ("breaker_half_open_probes", self.breaker_half_open_probes),
        ];
        if let Some((name, _)) = counts.iter().find(|(_, value)| *value == 0) {
            return Err(format!("{name} must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.breaker_jitter) {
            return Err("breaker_jitter must be within [0, 1]".to_owned());
        }
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err("timeouts must be greater than zero".to_owned());
        }
        Ok(())
    }
}

/// Parses `250ms`, `5s` or `2m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let value: u64 = digits.parse().map_err(|_| format!("`{text}` is not a duration like 250ms, 5s or 2m"))?;
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(value)),
        "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value.saturating_mul(60))),
        _ => Err(format!("`{text}` needs a unit: ms, s or m")),
    }
}

/// Parses a fraction within `[0, 1]`.
fn parse_fraction(text: &str) -> Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&value) { Ok(value) } else { Err(format!("`{text}` is not within [0, 1]")) }
}
