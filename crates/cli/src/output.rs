//! How results and failures reach the user: aligned tables, exact money, errors with their code
//! and request id (never a secret), and JSON for scripts.

use aex_types::{Currency, Money};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::Write as _;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// AEX answered with an error, or could not be reached.
    #[error(transparent)]
    Api(#[from] aex_client::Error),
    /// The command line or environment does not give what the command needs.
    #[error(transparent)]
    Config(#[from] crate::cli::ConfigError),
    /// A local file could not be read or written.
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    /// An argument AEX would refuse anyway (a malformed id), caught before any call.
    #[error("{0}")]
    Usage(String),
    /// Everything answered, but a check did not hold.
    #[error("check failed: {0}")]
    Check(String),
    /// NATS or JetStream failed (dead-letter commands talk to NATS directly).
    #[error(transparent)]
    Events(#[from] aex_common::events::EventError),
    /// What the command names does not exist (a dead-letter sequence).
    #[error("{0}")]
    NotFound(String),
    /// What the command names exists but is not what the command was told it is.
    #[error("{0}")]
    Mismatch(String),
}

impl CliError {
    pub fn check(message: impl Into<String>) -> Self {
        CliError::Check(message.into())
    }

    pub fn file(path: &std::path::Path, error: impl std::fmt::Display) -> Self {
        CliError::File { path: path.display().to_string(), reason: error.to_string() }
    }

    /// The stable code to show: the API's own, or one naming the local failure.
    pub fn code(&self) -> String {
        match self {
            CliError::Api(error) => match error {
                aex_client::Error::Api { code, .. } => code.clone(),
                aex_client::Error::Transport(_) => "UNREACHABLE".into(),
                aex_client::Error::Decode { .. } => "UNEXPECTED_RESPONSE".into(),
                aex_client::Error::InvalidInput(_) => "INVALID_INPUT".into(),
                aex_client::Error::SecretAlreadyShown { .. } => "SECRET_ALREADY_SHOWN".into(),
            },
            CliError::Config(_) => "CONFIGURATION".into(),
            CliError::File { .. } => "FILE".into(),
            CliError::Usage(_) => "INVALID_ARGUMENT".into(),
            CliError::Check(_) => "CHECK_FAILED".into(),
            CliError::Events(_) => "EVENT_BUS".into(),
            CliError::NotFound(_) => "NOT_FOUND".into(),
            CliError::Mismatch(_) => "MISMATCH".into(),
        }
    }

    /// A message safe to show. API messages are AEX's own (never secrets); ours name no key.
    pub fn message(&self) -> String {
        match self {
            CliError::Api(aex_client::Error::Api { message, .. }) => message.clone(),
            CliError::Api(aex_client::Error::Transport(error)) => {
                // reqwest's text may carry the URL, which never holds a credential here.
                format!("cannot reach the gateway: {error}")
            }
            // A NATS URL may carry a user and password.
            CliError::Events(aex_common::events::EventError::Connect { url, message }) => {
                format!("cannot connect to NATS at {}: {message}", without_credentials(url))
            }
            other => other.to_string(),
        }
    }

    pub fn request_id(&self) -> Option<&str> {
        match self {
            CliError::Api(error) => error.request_id(),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            CliError::Api(error) => error.status(),
            _ => None,
        }
    }

    /// `error: 409 WORK_ALREADY_AWARDED: ... (request id req_…)`.
    pub fn render(&self) -> String {
        let mut line = String::from("error: ");
        if let Some(status) = self.status() {
            let _ = write!(line, "{status} ");
        }
        let _ = write!(line, "{}: {}", self.code(), self.message());
        if let Some(id) = self.request_id() {
            let _ = write!(line, " (request id {id})");
        }
        line
    }

    pub fn to_json(&self) -> Value {
        json!({ "error": {
            "status": self.status(),
            "code": self.code(),
            "message": self.message(),
            "request_id": self.request_id(),
        }})
    }
}

/// `url` without the user and password it may carry: `nats://***@host:4222`.
pub fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// Where output goes: human text, or JSON on stdout for scripts; progress always on stderr.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints the result: `human` as text, or `value` as JSON.
    pub fn result(&self, human: impl FnOnce() -> String, value: &Value) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
        } else {
            let text = human();
            if !text.is_empty() {
                println!("{}", text.trim_end());
            }
        }
    }

    /// A line of progress: stdout in text mode, stderr with `--json` so stdout stays parseable.
    pub fn progress(&self, line: &str) {
        if self.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }

    /// A dot for a long wait, without a newline.
    pub fn tick(&self) {
        if self.json {
            eprint!(".");
            let _ = std::io::stderr().flush();
        } else {
            print!(".");
            let _ = std::io::stdout().flush();
        }
    }

    pub fn error(&self, error: &CliError) {
        if self.json {
            eprintln!("{}", error.to_json());
        } else {
            eprintln!("{}", error.render());
        }
    }
}

/// Exact money from minor units: `12.50 USD`.
pub fn money(minor: i64, currency: Currency) -> String {
    Money::from_minor(minor, currency).to_string()
}

/// A signed change: `+12.50`, `-3.00`, `0.00`.
pub fn delta(minor: i64, currency: Currency) -> String {
    let text = Money::from_minor(minor, currency).to_decimal_string();
    if minor > 0 { format!("+{text}") } else { text }
}

/// An aligned text table; numeric-looking cells are right-aligned.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let columns = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    // A column of numbers is right-aligned, its header too.
    let numeric: Vec<bool> = (0..columns)
        .map(|i| {
            let mut cells = rows.iter().filter_map(|r| r.get(i)).filter(|c| !c.is_empty()).peekable();
            cells.peek().is_some() && cells.all(|c| looks_numeric(c))
        })
        .collect();
    let mut text = String::new();
    let line = |text: &mut String, cells: &[String]| {
        let mut out = String::new();
        for (i, width) in widths.iter().enumerate() {
            let cell = cells.get(i).map(String::as_str).unwrap_or("");
            let pad = width.saturating_sub(cell.chars().count());
            if i > 0 {
                out.push_str("  ");
            }
            if numeric[i] {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            }
        }
        text.push_str(out.trim_end());
        text.push('\n');
    };
    line(&mut text, &headers.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    line(&mut text, &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>());
    for row in rows {
        line(&mut text, row);
    }
    text
}

fn looks_numeric(cell: &str) -> bool {
    let body = cell.split(' ').next().unwrap_or("");
    let body = body.strip_prefix(['+', '-']).unwrap_or(body);
    !body.is_empty() && body.chars().all(|c| c.is_ascii_digit() || c == '.') && body.chars().any(|c| c.is_ascii_digit())
}

/// A score with three decimals, for display only (scores are f64 on the wire).
pub fn score(value: f64) -> String {
    format!("{value:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact_and_changes_are_signed() {
        assert_eq!(money(123_456, Currency::USD), "1234.56 USD");
        assert_eq!(money(-5, Currency::USD), "-0.05 USD");
        assert_eq!(delta(7_250, Currency::USD), "+72.50");
        assert_eq!(delta(-7_250, Currency::USD), "-72.50");
        assert_eq!(delta(0, Currency::USD), "0.00");
    }

    #[test]
    fn tables_align_text_left_and_numbers_right() {
        let text = table(
            &["provider", "price"],
            &[vec!["alpha".into(), "72.50 USD".into()], vec!["b".into(), "100.00 USD".into()]],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "provider       price");
        assert_eq!(lines[1], "--------  ----------");
        assert_eq!(lines[2], "alpha      72.50 USD");
        assert_eq!(lines[3], "b         100.00 USD");
    }

    #[test]
    fn an_api_error_shows_status_code_message_and_request_id() {
        let error = CliError::Api(aex_client::Error::Api {
            status: 409,
            code: "EVALUATION_PENDING".into(),
            message: "the ranking has not arrived".into(),
            request_id: Some("req_123".into()),
            retry_after: None,
            details: None,
        });
        assert_eq!(error.render(), "error: 409 EVALUATION_PENDING: the ranking has not arrived (request id req_123)");
        let value = error.to_json();
        assert_eq!(value["error"]["code"], "EVALUATION_PENDING");
        assert_eq!(value["error"]["request_id"], "req_123");
        assert_eq!(value["error"]["status"], 409);
    }

    #[test]
    fn local_errors_have_codes_too_and_name_no_secret() {
        let error = CliError::Config(crate::cli::ConfigError::NoApiKey);
        assert_eq!(error.render(), "error: CONFIGURATION: no tenant API key: pass --api-key or set AEX_API_KEY");
        assert_eq!(CliError::check("payout").render(), "error: CHECK_FAILED: check failed: payout");
        assert_eq!(
            CliError::NotFound("no dead letter at sequence 9".into()).render(),
            "error: NOT_FOUND: no dead letter at sequence 9"
        );
        let error = CliError::Events(aex_common::events::EventError::Connect {
            url: "nats://ops:hunter2@nats.internal:4222".into(),
            message: "timed out".into(),
        });
        assert_eq!(
            error.render(),
            "error: EVENT_BUS: cannot connect to NATS at nats://***@nats.internal:4222: timed out"
        );
        assert_eq!(without_credentials("nats://127.0.0.1:14222"), "nats://127.0.0.1:14222");
    }
}
