//! Timestamps: UTC, microsecond precision, RFC 3339 text.

use aex_types::{Timestamp, TimestampError};
use proptest::prelude::*;
use time::{OffsetDateTime, UtcOffset, macros::datetime};

/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z, the range RFC 3339 can write.
const MIN_MILLIS: i64 = -62_167_219_200_000;
const MAX_MILLIS: i64 = 253_402_300_799_999;

#[test]
fn unix_millis_map_to_rfc3339() {
    let table = [
        (0, "1970-01-01T00:00:00Z"),
        (1, "1970-01-01T00:00:00.001Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (1_714_564_800_500, "2024-05-01T12:00:00.5Z"),
        (MIN_MILLIS, "0000-01-01T00:00:00Z"),
        (MAX_MILLIS, "9999-12-31T23:59:59.999Z"),
    ];
    for (millis, text) in table {
        let t = Timestamp::from_unix_millis(millis).unwrap();
        assert_eq!(t.to_string(), text);
        assert_eq!(t.unix_millis(), millis);
        assert_eq!(text.parse::<Timestamp>(), Ok(t));
        assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{text}\""));
    }
}

#[test]
fn out_of_range_is_rejected() {
    for millis in [MIN_MILLIS - 1, MAX_MILLIS + 1, i64::MAX, i64::MIN] {
        assert_eq!(Timestamp::from_unix_millis(millis), Err(TimestampError::OutOfRange), "{millis}");
    }
    assert_eq!(Timestamp::try_from(datetime!(-0001-12-31 23:59:59 UTC)), Err(TimestampError::OutOfRange));
    // In range at its own offset, but year 10000 in UTC.
    assert_eq!(Timestamp::try_from(datetime!(9999-12-31 23:00:00 -02:00)), Err(TimestampError::OutOfRange));
    assert_eq!(TimestampError::OutOfRange.code(), "INVALID_TIMESTAMP");
}

#[test]
fn offsets_are_converted_to_utc_and_nanoseconds_truncated() {
    let t: Timestamp = "2024-05-01T14:00:00.123456789+02:00".parse().unwrap();
    assert_eq!(t.to_string(), "2024-05-01T12:00:00.123456Z");
    assert_eq!(t.inner().offset(), UtcOffset::UTC);
    assert_eq!(t.inner(), datetime!(2024-05-01 12:00:00.123456 UTC));

    let from_datetime = Timestamp::try_from(datetime!(2024-05-01 09:00:00.000000999 -03:00)).unwrap();
    assert_eq!(from_datetime.to_string(), "2024-05-01T12:00:00Z");
    assert_eq!(OffsetDateTime::from(from_datetime), datetime!(2024-05-01 12:00 UTC));
}

#[test]
fn malformed_text_is_rejected() {
    for bad in ["", "2024-05-01", "2024-05-01T12:00Z", "2024-05-01T12:00:00", "yesterday", "1714564800"] {
        let err = bad.parse::<Timestamp>().unwrap_err();
        assert_eq!(err, TimestampError::Malformed, "{bad:?}");
        assert_eq!(err.code(), "INVALID_TIMESTAMP");
    }
    assert!(serde_json::from_str::<Timestamp>("\"2024-13-01T00:00:00Z\"").is_err());
    assert!(serde_json::from_str::<Timestamp>("1714564800").is_err());
}

#[test]
fn now_is_current_utc_in_microseconds() {
    let before = OffsetDateTime::now_utc();
    let first = Timestamp::now();
    let second = Timestamp::now();
    let after = OffsetDateTime::now_utc();
    assert!(first <= second);
    // Truncation may move `now` up to 999 ns before the clock reading.
    assert!(first.inner() > before - time::Duration::microseconds(1));
    assert!(second.inner() <= after);
    assert_eq!(first.inner().nanosecond() % 1000, 0);
    assert_eq!(first.inner().offset(), UtcOffset::UTC);
}

proptest! {
    #[test]
    fn millis_text_and_serde_round_trip(millis in MIN_MILLIS..=MAX_MILLIS) {
        let t = Timestamp::from_unix_millis(millis).unwrap();
        prop_assert_eq!(t.unix_millis(), millis);
        prop_assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t));
        let json = serde_json::to_string(&t).unwrap();
        prop_assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }

    #[test]
    fn order_follows_unix_millis(a in MIN_MILLIS..=MAX_MILLIS, b in MIN_MILLIS..=MAX_MILLIS) {
        let (ta, tb) = (Timestamp::from_unix_millis(a).unwrap(), Timestamp::from_unix_millis(b).unwrap());
        prop_assert_eq!(ta.cmp(&tb), a.cmp(&b));
    }
}
