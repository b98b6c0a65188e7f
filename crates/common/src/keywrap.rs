//! Protection of private keys at rest (CA keys, receipt signing keys): AES-256-GCM under a
//! key-encryption key (KEK) from the environment, or — in development only — plaintext
//! explicitly marked as unprotected.
//!
//! The sealed form of an AES-GCM key is `nonce (12 bytes) ‖ ciphertext ‖ tag`; the associated
//! data names the key version, so a sealed key copied onto another version's row will not open.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine;

/// Length of the key-encryption key in bytes.
pub const KEK_LEN: usize = 32;
const NONCE_LEN: usize = 12;

/// How a stored private key is protected (the `key_protection` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    Aes256Gcm,
    DevelopmentPlaintext,
}

impl Protection {
    pub fn as_str(self) -> &'static str {
        match self {
            Protection::Aes256Gcm => "aes-256-gcm",
            Protection::DevelopmentPlaintext => "development-plaintext",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "aes-256-gcm" => Some(Protection::Aes256Gcm),
            "development-plaintext" => Some(Protection::DevelopmentPlaintext),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyWrapError {
    #[error("the key-encryption key must be 32 bytes, as 64 hex digits or base64")]
    InvalidKek,
    #[error("a stored key is encrypted at rest; its key-encryption key is required to open it")]
    KekRequired,
    #[error("a stored key is unencrypted (development); refusing to use it with a key-encryption key configured")]
    UnprotectedKey,
    #[error("a stored key could not be decrypted: wrong key-encryption key or corrupted row")]
    Decrypt,
    #[error("a key could not be encrypted")]
    Encrypt,
}

/// Seals and opens private keys.
pub trait KeyWrap: Send + Sync {
    /// The protection applied by [`KeyWrap::seal`].
    fn protection(&self) -> Protection;
    /// Seals `secret`, bound to `context` (the key version).
    fn seal(&self, context: &[u8], secret: &[u8]) -> Result<Vec<u8>, KeyWrapError>;
    /// Opens a key stored with `protection`.
    fn open(&self, protection: Protection, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, KeyWrapError>;
}

/// Parses a KEK given as 64 hex digits or as base64 of 32 bytes.
pub fn parse_kek(text: &str) -> Result<[u8; KEK_LEN], KeyWrapError> {
    let text = text.trim();
    let bytes = if text.len() == 2 * KEK_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|_| KeyWrapError::InvalidKek)?
    } else {
        base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| KeyWrapError::InvalidKek)?
    };
    let kek: [u8; KEK_LEN] = bytes.try_into().map_err(|_| KeyWrapError::InvalidKek)?;
    if kek.iter().all(|&b| b == kek[0]) {
        return Err(KeyWrapError::InvalidKek);
    }
    Ok(kek)
}

/// AES-256-GCM under the KEK; opens only AES-GCM sealed keys.
pub struct AesGcmKeyWrap {
    cipher: Aes256Gcm,
}

impl AesGcmKeyWrap {
    pub fn new(kek: &[u8; KEK_LEN]) -> Result<Self, KeyWrapError> {
        Ok(Self { cipher: Aes256Gcm::new_from_slice(kek).map_err(|_| KeyWrapError::InvalidKek)? })
    }
}

impl KeyWrap for AesGcmKeyWrap {
    fn protection(&self) -> Protection {
        Protection::Aes256Gcm
    }

    fn seal(&self, context: &[u8], secret: &[u8]) -> Result<Vec<u8>, KeyWrapError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| KeyWrapError::Encrypt)?;
        let ciphertext = self
            .cipher
            .encrypt(&nonce.into(), Payload { msg: secret, aad: context })
            .map_err(|_| KeyWrapError::Encrypt)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    fn open(&self, protection: Protection, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, KeyWrapError> {
        match protection {
            Protection::DevelopmentPlaintext => Err(KeyWrapError::UnprotectedKey),
            Protection::Aes256Gcm => {
                if sealed.len() <= NONCE_LEN {
                    return Err(KeyWrapError::Decrypt);
                }
                let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
                let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| KeyWrapError::Decrypt)?;
                self.cipher
                    .decrypt(&nonce.into(), Payload { msg: ciphertext, aad: context })
                    .map_err(|_| KeyWrapError::Decrypt)
            }
        }
    }
}

/// Development without a KEK: keys are stored in plaintext, flagged as such, and a warning is
/// logged at start. Production refuses to start this way.
pub struct DevelopmentKeyWrap;

impl KeyWrap for DevelopmentKeyWrap {
    fn protection(&self) -> Protection {
        Protection::DevelopmentPlaintext
    }

    fn seal(&self, _context: &[u8], secret: &[u8]) -> Result<Vec<u8>, KeyWrapError> {
        Ok(secret.to_vec())
    }

    fn open(&self, protection: Protection, _context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, KeyWrapError> {
        match protection {
            Protection::DevelopmentPlaintext => Ok(sealed.to_vec()),
            Protection::Aes256Gcm => Err(KeyWrapError::KekRequired),
        }
    }
}

/// The key wrap for a configuration: AES-256-GCM when a KEK is given; without one, development
/// stores keys unencrypted (with a loud warning naming `variable`) and production refuses.
pub fn from_config(
    kek: Option<&crate::secret::Secret<String>>,
    environment: crate::runtime::Environment,
    variable: &str,
) -> Result<Box<dyn KeyWrap>, String> {
    match kek {
        Some(kek) => {
            let kek = parse_kek(kek.expose()).map_err(|e| format!("{variable}: {e}"))?;
            Ok(Box::new(AesGcmKeyWrap::new(&kek).map_err(|e| format!("{variable}: {e}"))?))
        }
        None if environment == crate::runtime::Environment::Development => {
            tracing::warn!("{variable} is not set: private keys are stored UNENCRYPTED (development only)");
            Ok(Box::new(DevelopmentKeyWrap))
        }
        None => Err(format!("{variable} is required in production to encrypt private keys at rest")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const KEK_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn a_kek_parses_from_hex_or_base64_and_weak_or_short_ones_are_refused() {
        let kek = parse_kek(KEK_HEX).unwrap();
        assert_eq!(kek[31], 0x1f);
        let b64 = base64::engine::general_purpose::STANDARD.encode(kek);
        assert_eq!(parse_kek(&b64).unwrap(), kek);
        assert_eq!(parse_kek("abcd"), Err(KeyWrapError::InvalidKek));
        assert_eq!(parse_kek(&"00".repeat(32)), Err(KeyWrapError::InvalidKek));
        assert_eq!(parse_kek("not base64 at all!"), Err(KeyWrapError::InvalidKek));
    }

    #[test]
    fn sealed_keys_open_only_with_the_same_kek_and_context() {
        let wrap = AesGcmKeyWrap::new(&parse_kek(KEK_HEX).unwrap()).unwrap();
        let sealed = wrap.seal(b"v1", b"secret scalar").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"), "ciphertext must not contain the plaintext");
        assert_eq!(wrap.open(Protection::Aes256Gcm, b"v1", &sealed).unwrap(), b"secret scalar");
        assert_eq!(wrap.open(Protection::Aes256Gcm, b"v2", &sealed), Err(KeyWrapError::Decrypt));
        let mut other = parse_kek(KEK_HEX).unwrap();
        other[0] ^= 1;
        let wrong = AesGcmKeyWrap::new(&other).unwrap();
        assert_eq!(wrong.open(Protection::Aes256Gcm, b"v1", &sealed), Err(KeyWrapError::Decrypt));
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(wrap.open(Protection::Aes256Gcm, b"v1", &tampered), Err(KeyWrapError::Decrypt));
        assert_eq!(wrap.open(Protection::Aes256Gcm, b"v1", &sealed[..5]), Err(KeyWrapError::Decrypt));
    }

    #[test]
    fn protections_do_not_mix() {
        let wrap = AesGcmKeyWrap::new(&parse_kek(KEK_HEX).unwrap()).unwrap();
        assert_eq!(wrap.open(Protection::DevelopmentPlaintext, b"v1", b"x"), Err(KeyWrapError::UnprotectedKey));
        let dev = DevelopmentKeyWrap;
        let sealed = wrap.seal(b"v1", b"k").unwrap();
        assert_eq!(dev.open(Protection::Aes256Gcm, b"v1", &sealed), Err(KeyWrapError::KekRequired));
        assert_eq!(dev.open(Protection::DevelopmentPlaintext, b"v1", b"k").unwrap(), b"k");
        for p in [Protection::Aes256Gcm, Protection::DevelopmentPlaintext] {
            assert_eq!(Protection::parse(p.as_str()), Some(p));
        }
    }
}
