//! The API key format: `aexk_` followed by 64 lower-case hex characters (256 OS-random bits).
//! Only the SHA-256 of the whole key is stored; the first 12 characters are kept for display.

use sha2::{Digest, Sha256};
use std::fmt;

/// Every API key starts with this, so a key is recognisable in a `Bearer` header and in logs
/// scanners (secret scanning), and never mistaken for a JWT.
pub const KEY_PREFIX: &str = "aexk_";
/// Hex characters after the prefix: 32 bytes = 256 bits.
const SECRET_HEX_LEN: usize = 64;
/// Characters of the key kept in clear for display (`aexk_` + 7 hex).
pub const DISPLAY_PREFIX_LEN: usize = 12;

/// A plaintext API key. `Debug` and `Display` never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct PlaintextKey(String);

impl fmt::Debug for PlaintextKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlaintextKey({}…)", self.display_prefix())
    }
}

impl PlaintextKey {
    /// A fresh key from the OS random number generator.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0_u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(format!("{KEY_PREFIX}{}", hex::encode(bytes))))
    }

    /// Accepts `candidate` only when it has the exact key format.
    pub fn parse(candidate: &str) -> Option<Self> {
        let secret = candidate.strip_prefix(KEY_PREFIX)?;
        let well_formed =
            secret.len() == SECRET_HEX_LEN && secret.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| Self(candidate.to_string()))
    }

    /// The key itself: only to hand it to its owner once, or to write the operator key file.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored and looked up: SHA-256 of the whole key, lower-case hex.
    pub fn hash(&self) -> String {
        hash_key(&self.0)
    }

    /// The first characters, safe to show in listings.
    pub fn display_prefix(&self) -> String {
        self.0.chars().take(DISPLAY_PREFIX_LEN).collect()
    }
}

/// SHA-256 of `key`, lower-case hex. A fast hash is enough: the key has 256 random bits, so
/// there is nothing to brute-force that a slow hash would protect.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether a bearer credential looks like an API key (rather than a JWT).
pub fn looks_like_api_key(credential: &str) -> bool {
    credential.starts_with(KEY_PREFIX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_keys_have_the_format_and_are_distinct() {
        let a = PlaintextKey::generate().unwrap();
        let b = PlaintextKey::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), KEY_PREFIX.len() + SECRET_HEX_LEN);
        assert_eq!(PlaintextKey::parse(a.expose()), Some(a.clone()));
        assert_eq!(a.display_prefix().len(), DISPLAY_PREFIX_LEN);
        assert!(a.expose().starts_with(&a.display_prefix()));
        assert_eq!(a.hash().len(), 64);
        assert!(!format!("{a:?}").contains(a.expose()), "Debug must not print the key");
    }

    #[test]
    fn malformed_keys_are_refused() {
        let hex64 = "0".repeat(64);
        assert!(PlaintextKey::parse(&format!("aexk_{hex64}")).is_some());
        for bad in [
            String::new(),
            "aexk_".to_string(),
            format!("aexk_{}", "0".repeat(63)),
            format!("aexk_{}", "0".repeat(65)),
            format!("aexk_{}", "A".repeat(64)),
            format!("aexk_{}", "g".repeat(64)),
            format!("AEXK_{hex64}"),
            format!("key_{hex64}"),
            format!("aexk_{}é", "0".repeat(62)),
        ] {
            assert!(PlaintextKey::parse(&bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(hash_key("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_only_accepts_the_format(s in ".{0,80}") {
            if let Some(key) = PlaintextKey::parse(&s) {
                prop_assert!(key.expose().starts_with(KEY_PREFIX));
                prop_assert_eq!(key.expose().len(), 69);
            }
        }
    }
}
