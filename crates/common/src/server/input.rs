//! Input hygiene shared by every service: text that Postgres cannot store (NUL, invalid UTF-8)
//! and control characters are refused with `400 INVALID_CHARACTERS` before any handler runs or
//! any batch forms, and JSON bodies follow one policy (no duplicate keys).
//!
//! Paths and query strings are checked by a layer of the standard stack (after percent
//! decoding); JSON bodies by [`check_json`], which the [`Json`](super::Json) extractor and the
//! gateway's proxy both run. Field rules beyond this (lengths, single-line labels) stay with the
//! field: see [`single_line`].

use super::error::ApiError;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::cell::RefCell;
use std::fmt;

/// The code of every refusal for characters that have no place in the input.
pub const INVALID_CHARACTERS: &str = "INVALID_CHARACTERS";
/// The code of a JSON object that names the same key twice.
pub const DUPLICATE_JSON_KEY: &str = "DUPLICATE_JSON_KEY";

/// Whether `c` may appear in free text: everything but the C0 controls other than tab, line
/// feed and carriage return, DEL and the C1 controls. NUL is among the refused (Postgres
/// cannot store it in text or jsonb).
pub fn is_text_char(c: char) -> bool {
    !c.is_control() || matches!(c, '\t' | '\n' | '\r')
}

/// Whether `c` may appear in a one-line value (a name, a reference, an id): no control
/// character at all.
pub fn is_label_char(c: char) -> bool {
    !c.is_control()
}

/// Checks a one-line text field: no control characters (not even tab or line breaks) and at
/// most `max_chars` characters.
///
/// ```
/// use aex_common::server::input::single_line;
/// assert!(single_line("INV-2026-001", "payment_reference", 256).is_ok());
/// assert_eq!(single_line("a\r\nb", "payment_reference", 256).unwrap_err().code, "INVALID_CHARACTERS");
/// ```
pub fn single_line(value: &str, field: &str, max_chars: usize) -> Result<(), ApiError> {
    if !value.chars().all(is_label_char) {
        return Err(ApiError::bad_request(
            INVALID_CHARACTERS,
            format!("{field} must be one line without control characters"),
        ));
    }
    if value.chars().count() > max_chars {
        return Err(ApiError::bad_request(
            "VALIDATION_ERROR",
            format!("{field} must be at most {max_chars} characters"),
        ));
    }
    Ok(())
}

/// Longest request target (path and query) the stack reads: 8 KiB, as common proxies allow.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most headers one request may carry.
pub const MAX_HEADERS: usize = 100;
/// Largest sum of header names and values one request may carry: 32 KiB.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The refusal of a request whose target is too long (`414 URI_TOO_LONG`), whose headers are
/// too many or too large (`431 HEADERS_TOO_LARGE`), or whose decoded path or query holds
/// invalid UTF-8 or a control character (`400 INVALID_CHARACTERS`); `None` for a sound head.
/// The standard stack asks it for every route, matched or not.
pub fn refusal_of_head(req: &Request) -> Option<Response> {
    let uri = req.uri();
    let target = uri.path_and_query().map_or(uri.path().len(), |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(
            ApiError::new(
                StatusCode::URI_TOO_LONG,
                "URI_TOO_LONG",
                format!("the request target is longer than {MAX_URI_BYTES} bytes"),
            )
            .into_response(),
        );
    }
    let headers = req.headers();
    let header_bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        return Some(
            ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "HEADERS_TOO_LARGE",
                format!("at most {MAX_HEADERS} headers of {MAX_HEADER_BYTES} bytes in all"),
            )
            .into_response(),
        );
    }
    if let Err(place) = check_uri(uri.path(), uri.query()) {
        return Some(
            ApiError::bad_request(
                INVALID_CHARACTERS,
                format!("the {place} holds invalid UTF-8 or a control character"),
            )
            .into_response(),
        );
    }
    None
}

/// `Err("path")` or `Err("query string")` when that part, percent-decoded, is not clean text.
fn check_uri(path: &str, query: Option<&str>) -> Result<(), &'static str> {
    if !is_clean_encoded(path) {
        return Err("path");
    }
    if query.is_some_and(|q| !is_clean_encoded(q)) {
        return Err("query string");
    }
    Ok(())
}

fn is_clean_encoded(encoded: &str) -> bool {
    // Fast path: nothing encoded, and the raw URI can only hold visible ASCII.
    if !encoded.contains('%') {
        return encoded.chars().all(is_label_char);
    }
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(encoded).collect();
    std::str::from_utf8(&decoded).is_ok_and(|text| text.chars().all(is_label_char))
}

/// Checks a JSON body against the shared policy without building it: every object's keys are
/// distinct, and every string (keys included) is free text ([`is_text_char`]). Syntax errors
/// are left to the decoder that follows, which names them precisely.
///
/// ```
/// use aex_common::server::input::check_json;
/// assert!(check_json(br#"{"a":"x","b":[1,"y"]}"#).is_ok());
/// assert_eq!(check_json(br#"{"a":1,"a":2}"#).unwrap_err().code, "DUPLICATE_JSON_KEY");
/// assert_eq!(check_json(br#"{"a":"x\u0000y"}"#).unwrap_err().code, "INVALID_CHARACTERS");
/// ```
pub fn check_json(bytes: &[u8]) -> Result<(), ApiError> {
    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match (Checked { found: &found }).deserialize(&mut deserializer) {
        Ok(()) => Ok(()),
        Err(_) => match found.into_inner() {
            Some(Violation { kind: ViolationKind::DuplicateKey(key), path }) => Err(ApiError::bad_request(
                DUPLICATE_JSON_KEY,
                format!("{} names the key {key:?} more than once", Violation::place(&path, "the JSON object")),
            )),
            Some(Violation { kind: ViolationKind::ControlCharacter, path }) => Err(ApiError::bad_request(
                INVALID_CHARACTERS,
                format!(
                    "{} holds NUL or a control character other than tab or a line break",
                    Violation::place(&path, "a JSON string")
                ),
            )),
            // Malformed JSON: the typed decoder reports it with its position.
            None => Ok(()),
        },
    }
}

enum ViolationKind {
    DuplicateKey(String),
    ControlCharacter,
}

/// What was found, and where: the path's segments innermost first (they are added while the
/// walk unwinds).
struct Violation {
    kind: ViolationKind,
    path: Vec<Segment>,
}

enum Segment {
    Key(String),
    Index(usize),
}

impl Violation {
    /// `transfers[3].reference`, or `fallback` at the top level.
    fn place(path: &[Segment], fallback: &str) -> String {
        let mut place = String::new();
        for segment in path.iter().rev() {
            match segment {
                Segment::Key(key) if place.is_empty() => place.push_str(key),
                Segment::Key(key) => {
                    place.push('.');
                    place.push_str(key);
                }
                Segment::Index(index) => place.push_str(&format!("[{index}]")),
            }
        }
        if place.is_empty() { fallback.to_string() } else { place }
    }
}

/// A seed that walks one JSON value and records the first policy violation it meets.
#[derive(Clone, Copy)]
struct Checked<'a> {
    found: &'a RefCell<Option<Violation>>,
}

impl Checked<'_> {
    fn violation<E: de::Error>(&self, kind: ViolationKind) -> E {
        *self.found.borrow_mut() = Some(Violation { kind, path: Vec::new() });
        E::custom("input policy violated")
    }

    fn text<E: de::Error>(&self, text: &str) -> Result<(), E> {
        if text.chars().all(is_text_char) { Ok(()) } else { Err(self.violation(ViolationKind::ControlCharacter)) }
    }

    /// Adds `segment` to the path of a violation found below it.
    fn within<T, E>(&self, segment: impl FnOnce() -> Segment, result: Result<T, E>) -> Result<T, E> {
        if result.is_err()
            && let Some(violation) = self.found.borrow_mut().as_mut()
        {
            violation.path.push(segment());
        }
        result
    }
}

impl<'de> DeserializeSeed<'de> for Checked<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        self.text(text)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            let next = seq.next_element_seed(self);
            match self.within(|| Segment::Index(index), next)? {
                Some(()) => index += 1,
                None => return Ok(()),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Objects are small: a linear scan beats hashing them.
        let mut keys: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            self.text::<A::Error>(&key)?;
            if keys.contains(&key) {
                return Err(self.violation(ViolationKind::DuplicateKey(key)));
            }
            let value = map.next_value_seed(self);
            self.within(|| Segment::Key(key.clone()), value)?;
            keys.push(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn clean_json_passes_and_malformed_json_is_left_to_the_decoder() {
        for body in [&br#"{"a":"tab\tand\nlines","b":{"c":[null,true,1.5,-3]}}"#[..], b"[]", b"\"x\"", b"{", b"", b"{]"]
        {
            assert!(check_json(body).is_ok(), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn violations_name_where_they_are() {
        let nested = check_json(br#"{"transfers":[{"id":"1"},{"id":"2","reference":"a\u0000"}]}"#).unwrap_err();
        assert!(nested.message.starts_with("transfers[1].reference holds NUL"), "{}", nested.message);
        let duplicate = check_json(br#"{"delivery":{"method":"x","method":"y"}}"#).unwrap_err();
        assert!(duplicate.message.starts_with("delivery names the key \"method\""), "{}", duplicate.message);
        let top = check_json(br#""\u0000""#).unwrap_err();
        assert!(top.message.starts_with("a JSON string holds"), "{}", top.message);
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        for body in [&br#"{"a":1,"a":1}"#[..], br#"[{"x":{"k":1,"k":2}}]"#, br#"{"transfers":[{"id":"1","id":"2"}]}"#] {
            assert_eq!(check_json(body).unwrap_err().code, DUPLICATE_JSON_KEY);
        }
        assert!(check_json(br#"[{"a":1},{"a":1}]"#).is_ok(), "the same key in two objects is fine");
    }

    #[test]
    fn control_characters_are_refused_in_values_and_keys() {
        for body in [
            &br#"{"payment_reference":"x\u0000y"}"#[..],
            br#"{"k\u0000":"v"}"#,
            br#"["\u001b[31m"]"#,
            br#"{"a":"\u007f"}"#,
            br#"{"a":"\u0085"}"#,
        ] {
            assert_eq!(check_json(body).unwrap_err().code, INVALID_CHARACTERS, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn paths_and_queries_are_checked_after_decoding() {
        assert!(check_uri("/v1/accounts/acct_1", Some("limit=5&q=caf%C3%A9")).is_ok());
        assert_eq!(check_uri("/v1/accounts/x%00", None), Err("path"));
        assert_eq!(check_uri("/v1/accounts/x%ff", None), Err("path"));
        assert_eq!(check_uri("/v1/accounts/x%0d%0a", None), Err("path"));
        assert_eq!(check_uri("/v1/providers/search", Some("q=%00")), Err("query string"));
        assert_eq!(check_uri("/v1/providers/search", Some("q=%C3")), Err("query string"));
    }

    #[test]
    fn labels_are_single_line() {
        assert!(single_line("Acme Ltd", "name", 10).is_ok());
        assert_eq!(single_line("a\tb", "name", 10).unwrap_err().code, INVALID_CHARACTERS);
        assert_eq!(single_line("abcdefghijk", "name", 10).unwrap_err().code, "VALIDATION_ERROR");
    }
}
