//! Idempotency rules: what a valid `Idempotency-Key` is, how a key is namespaced, how a
//! request is fingerprinted, which responses are kept, and what a repeated key gets.

use super::FieldError;
use sha2::{Digest, Sha256};

/// Longest accepted `Idempotency-Key`.
pub const MAX_KEY_CHARS: usize = 255;
/// Responses this large or larger are not kept (the service's own record still applies).
pub const MAX_CACHED_BODY_BYTES: usize = 1024 * 1024;
/// Response headers kept with a response and replayed.
pub const STORED_RESPONSE_HEADERS: [&str; 6] =
    ["content-type", "content-disposition", "cache-control", "etag", "location", "x-aex-upstream"];

/// Checks the header: 1–255 visible ASCII characters.
pub fn validate_key(value: &str) -> Result<&str, FieldError> {
    if value.is_empty() || value.len() > MAX_KEY_CHARS || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(FieldError::new(
            "Idempotency-Key",
            format!("must be 1 to {MAX_KEY_CHARS} visible ASCII characters"),
        ));
    }
    Ok(value)
}

/// Hashes length-prefixed parts, so no two different part lists collide by concatenation.
fn digest(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// Where a key lives inside its tenant's namespace: the normalized route (method and
/// pattern), the concrete path and the client's key, hashed to a fixed length.
pub fn scope_digest(method: &str, pattern: &str, path: &str, key: &str) -> String {
    digest(&[method.as_bytes(), pattern.as_bytes(), path.as_bytes(), key.as_bytes()])
}

/// The request's fingerprint: SHA-256 over method, path, query and body.
pub fn fingerprint(method: &str, path: &str, query: &str, body: &[u8]) -> String {
    digest(&[method.as_bytes(), path.as_bytes(), query.as_bytes(), body])
}

/// Whether a response is kept for replay: not a server error, not a transient refusal
/// (408, 429: the client should be able to try again), and under the size bound.
pub fn cacheable(status: u16, body_len: usize) -> bool {
    status < 500 && status != 408 && status != 429 && body_len < MAX_CACHED_BODY_BYTES
}

/// What the replay cache holds for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    InFlight { fingerprint: String },
    Done { fingerprint: String, status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
}

/// What a request whose key is already recorded gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The same request again: the first response.
    Replay { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
    /// A different request under the same key: 422.
    Reused,
    /// The same request while the first is still running: 409.
    InProgress,
}

pub fn judge(record: Record, fingerprint: &str) -> Verdict {
    match record {
        Record::InFlight { fingerprint: first } | Record::Done { fingerprint: first, .. } if first != fingerprint => {
            Verdict::Reused
        }
        Record::InFlight { .. } => Verdict::InProgress,
        Record::Done { status, headers, body, .. } => Verdict::Replay { status, headers, body },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_visible_ascii() {
        assert!(validate_key("order-42_retry.1").is_ok());
        assert!(validate_key("").is_err());
        assert!(validate_key("has space").is_err());
        assert!(validate_key("caf\u{e9}").is_err());
        assert!(validate_key(&"k".repeat(256)).is_err());
        assert!(validate_key(&"k".repeat(255)).is_ok());
    }

    #[test]
    fn fingerprints_cover_method_path_query_and_body() {
        let base = fingerprint("POST", "/v1/deposits", "", b"{\"amount\":\"1.00\"}");
        assert_eq!(base, fingerprint("POST", "/v1/deposits", "", b"{\"amount\":\"1.00\"}"));
        assert_ne!(base, fingerprint("POST", "/v1/deposits", "", b"{\"amount\":\"2.00\"}"));
        assert_ne!(base, fingerprint("POST", "/v1/deposits", "x=1", b"{\"amount\":\"1.00\"}"));
        assert_ne!(base, fingerprint("POST", "/v1/withdrawals", "", b"{\"amount\":\"1.00\"}"));
        assert_ne!(
            fingerprint("POST", "/a", "b", b""),
            fingerprint("POST", "/ab", "", b""),
            "no concatenation collisions"
        );
        assert_eq!(base.len(), 64);
    }

    #[test]
    fn keys_are_scoped_by_route_and_path() {
        let award = |path| scope_digest("POST", "/v1/work/{id}/award", path, "k1");
        assert_ne!(award("/v1/work/w1/award"), award("/v1/work/w2/award"));
        assert_ne!(
            award("/v1/work/w1/award"),
            scope_digest("POST", "/v1/work/{id}/cancel", "/v1/work/w1/cancel", "k1")
        );
    }

    #[test]
    fn only_final_small_answers_are_kept() {
        assert!(cacheable(201, 100));
        assert!(cacheable(402, 100));
        assert!(cacheable(409, 100));
        assert!(!cacheable(500, 100));
        assert!(!cacheable(503, 100));
        assert!(!cacheable(429, 100));
        assert!(!cacheable(200, MAX_CACHED_BODY_BYTES));
    }

    #[test]
    fn a_repeated_key_is_replayed_refused_or_told_to_wait() {
        let done = Record::Done {
            fingerprint: "f1".into(),
            status: 201,
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"{}".to_vec(),
        };
        assert!(matches!(judge(done.clone(), "f1"), Verdict::Replay { status: 201, .. }));
        assert_eq!(judge(done, "f2"), Verdict::Reused);
        assert_eq!(judge(Record::InFlight { fingerprint: "f1".into() }, "f1"), Verdict::InProgress);
        assert_eq!(judge(Record::InFlight { fingerprint: "f1".into() }, "f2"), Verdict::Reused);
    }
}
