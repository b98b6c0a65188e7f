//! A redacting wrapper for secrets: configuration values that must never reach logs or bodies.

use std::fmt;
use std::str::FromStr;

/// A secret value whose `Debug` and `Display` print `***`.
///
/// ```
/// use aex_common::secret::Secret;
/// let s = Secret::new("hunter2".to_string());
/// assert_eq!(format!("{s:?}"), "***");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl FromStr for Secret<String> {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

/// A connection URL with its password replaced, safe to log.
///
/// ```
/// assert_eq!(
///     aex_common::secret::redact_url("postgres://svc:pw@db:5432/aex"),
///     "postgres://svc:***@db:5432/aex"
/// );
/// ```
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) => {
            if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
                return "<unparseable url>".to_string();
            }
            parsed.to_string()
        }
        Err(_) => "<unparseable url>".to_string(),
    }
}
