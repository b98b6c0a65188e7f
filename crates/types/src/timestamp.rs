//! A UTC instant with microsecond precision, written as RFC 3339 text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Why a value is not a valid [`Timestamp`]. Every variant has the code `INVALID_TIMESTAMP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// Outside the years 0000–9999 that RFC 3339 can write.
    #[error("timestamp is outside the years 0000-9999")]
    OutOfRange,
    /// Not an RFC 3339 date-time such as `2024-05-01T12:00:00Z`.
    #[error("timestamp is not an RFC 3339 date-time")]
    Malformed,
}

impl TimestampError {
    /// The stable code for API error bodies: always `INVALID_TIMESTAMP`.
    pub const fn code(&self) -> &'static str {
        "INVALID_TIMESTAMP"
    }
}

/// An instant in UTC, truncated to whole microseconds, in the years 0000–9999.
///
/// Microseconds because that is what Postgres `timestamptz` stores: a value read back from
/// the database equals the one written. The year range is what RFC 3339 can express, so
/// formatting never fails. Serialized and displayed as RFC 3339 (`2024-05-01T12:00:00.5Z`).
///
/// ```
/// use aex_types::Timestamp;
///
/// let t = Timestamp::from_unix_millis(1_714_564_800_500).unwrap();
/// assert_eq!(t.to_string(), "2024-05-01T12:00:00.5Z");
/// assert_eq!(t.unix_millis(), 1_714_564_800_500);
/// assert_eq!("2024-05-01T14:00:00.5+02:00".parse::<Timestamp>(), Ok(t));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        // The clock is in range until the year 10000; truncation only drops nanoseconds.
        Timestamp(truncate_to_micros(OffsetDateTime::now_utc()))
    }

    /// The instant `millis` milliseconds after the Unix epoch (negative: before it).
    pub fn from_unix_millis(millis: i64) -> Result<Timestamp, TimestampError> {
        let nanos = i128::from(millis) * 1_000_000;
        let datetime = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| TimestampError::OutOfRange)?;
        Timestamp::try_from(datetime)
    }

    /// Milliseconds since the Unix epoch, rounded down.
    pub fn unix_millis(&self) -> i64 {
        // Whole seconds round down and the millisecond is within that second, so this floors
        // for instants before 1970 too. Years 0000–9999 keep it far from i64 overflow.
        self.0.unix_timestamp() * 1000 + i64::from(self.0.millisecond())
    }

    /// This instant `duration` later (earlier when negative), or `None` outside the years
    /// 0000–9999.
    ///
    /// ```
    /// use aex_types::Timestamp;
    ///
    /// let t: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
    /// assert_eq!(t.checked_add(time::Duration::days(1)).unwrap().to_string(), "2024-05-02T12:00:00Z");
    /// let last: Timestamp = "9999-12-31T23:00:00Z".parse().unwrap();
    /// assert_eq!(last.checked_add(time::Duration::hours(2)), None);
    /// ```
    pub fn checked_add(self, duration: time::Duration) -> Option<Timestamp> {
        self.0.checked_add(duration).and_then(|t| Timestamp::try_from(t).ok())
    }

    /// The underlying date-time, always at UTC offset.
    pub const fn inner(&self) -> OffsetDateTime {
        self.0
    }
}

/// Converts to UTC and truncates to microseconds; fails outside the years 0000–9999.
impl TryFrom<OffsetDateTime> for Timestamp {
    type Error = TimestampError;

    fn try_from(datetime: OffsetDateTime) -> Result<Timestamp, TimestampError> {
        let utc = datetime.checked_to_offset(UtcOffset::UTC).ok_or(TimestampError::OutOfRange)?;
        if !(0..=9999).contains(&utc.year()) {
            return Err(TimestampError::OutOfRange);
        }
        Ok(Timestamp(truncate_to_micros(utc)))
    }
}

impl From<Timestamp> for OffsetDateTime {
    fn from(timestamp: Timestamp) -> OffsetDateTime {
        timestamp.0
    }
}

fn truncate_to_micros(datetime: OffsetDateTime) -> OffsetDateTime {
    let micros = datetime.microsecond();
    // `replace_microsecond` only fails for values above 999 999, which `microsecond()` never returns.
    datetime.replace_microsecond(micros).unwrap_or(datetime)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Cannot fail: the year is within 0000–9999 and the offset is UTC.
        let text = self.0.format(&Rfc3339).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

/// Parses RFC 3339 with any offset; the result is converted to UTC.
impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Timestamp, TimestampError> {
        let datetime = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| TimestampError::Malformed)?;
        Timestamp::try_from(datetime)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
