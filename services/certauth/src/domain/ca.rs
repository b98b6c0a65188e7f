//! CA key material: P-256 key generation and the self-signed X.509 certificate of each key
//! version. Pure: randomness comes from the OS, nothing is stored here.

use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use std::str::FromStr;
use std::time::{Duration, SystemTime};
use x509_cert::Certificate;
use x509_cert::builder::{Builder, CertificateBuilder, profile};
use x509_cert::der::EncodePem;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfo;
use x509_cert::time::{Time, Validity};

/// The issuer name of the AEX certificate authority.
pub const ISSUER: &str = "AEX Certificate Authority";
/// The signature algorithm of credentials, certificates and CRLs.
pub const ALGORITHM: &str = "ECDSA-P256-SHA256";
/// How long a CA certificate is valid.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("the OS random number generator failed")]
    Random,
    #[error("invalid key material")]
    Key,
    #[error("X.509: {0}")]
    X509(String),
}

/// The key id a CRL and the well-known document name a version by.
pub fn key_id(version: i32) -> String {
    format!("aex-ca-v{version}")
}

/// The distinguished name of version `version`'s CA certificate. Each version has its own
/// name so a leaf chains to exactly one CA certificate.
pub fn subject(version: i32) -> Result<Name, CaError> {
    Name::from_str(&format!("CN={ISSUER} v{version},O=AEX,C=US")).map_err(|e| CaError::X509(e.to_string()))
}

/// A fresh P-256 signing key from the OS RNG (rejection-sampled by `from_slice`).
pub fn generate_key() -> Result<SigningKey, CaError> {
    for _ in 0..16 {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| CaError::Random)?;
        let key = SigningKey::from_slice(&bytes);
        bytes.fill(0);
        if let Ok(key) = key {
            return Ok(key);
        }
    }
    Err(CaError::Random)
}

/// The signing key stored as its 32-byte scalar.
pub fn key_from_bytes(bytes: &[u8]) -> Result<SigningKey, CaError> {
    SigningKey::from_slice(bytes).map_err(|_| CaError::Key)
}

/// `n` random bytes from the OS.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CaError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| CaError::Random)?;
    Ok(bytes)
}

/// A positive X.509 serial number from 16 random bytes.
pub fn random_serial() -> Result<(SerialNumber, Vec<u8>), CaError> {
    loop {
        let bytes = random_bytes::<16>()?;
        if bytes.iter().all(|&b| b == 0) {
            continue;
        }
        let serial = SerialNumber::new(&bytes).map_err(|e| CaError::X509(e.to_string()))?;
        return Ok((serial, bytes.to_vec()));
    }
}

/// SubjectPublicKeyInfo PEM of a P-256 public key.
pub fn public_key_pem(key: &VerifyingKey) -> Result<String, CaError> {
    key.to_public_key_pem(LineEnding::LF).map_err(|e| CaError::X509(e.to_string()))
}

/// The self-signed CA certificate of a key version, valid from `now` for [`CA_VALIDITY`].
pub fn ca_certificate(key: &SigningKey, version: i32, now: SystemTime) -> Result<Certificate, CaError> {
    let x509 = |e: &dyn std::fmt::Display| CaError::X509(e.to_string());
    let (serial, _) = random_serial()?;
    let validity = Validity::new(
        Time::try_from(now).map_err(|e| x509(&e))?,
        Time::try_from(now + CA_VALIDITY).map_err(|e| x509(&e))?,
    );
    let spki = SubjectPublicKeyInfo::from_key(key.verifying_key()).map_err(|e| x509(&e))?;
    let profile = profile::cabf::Root::new(false, subject(version)?).map_err(|e| x509(&e))?;
    let builder = CertificateBuilder::new(profile, serial, validity, spki).map_err(|e| x509(&e))?;
    builder.build::<_, DerSignature>(key).map_err(|e| x509(&e))
}

/// PEM of a certificate.
pub fn certificate_pem(certificate: &Certificate) -> Result<String, CaError> {
    certificate.to_pem(x509_cert::der::pem::LineEnding::LF).map_err(|e| CaError::X509(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use x509_cert::der::{Decode, DecodePem, Encode};

    #[test]
    fn a_generated_key_round_trips_through_its_scalar() {
        let key = generate_key().unwrap();
        let again = key_from_bytes(&key.to_bytes()).unwrap();
        assert_eq!(key.verifying_key(), again.verifying_key());
        assert!(key_from_bytes(&[0u8; 32]).is_err());
        assert!(key_from_bytes(&[1u8; 5]).is_err());
    }

    #[test]
    fn the_ca_certificate_is_self_signed_with_the_version_in_its_name() {
        let key = generate_key().unwrap();
        let cert = ca_certificate(&key, 3, SystemTime::now()).unwrap();
        let pem = certificate_pem(&cert).unwrap();
        let parsed = Certificate::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(parsed, cert);
        let der = cert.to_der().unwrap();
        assert_eq!(Certificate::from_der(&der).unwrap(), cert);
        let name = cert.tbs_certificate().subject().to_string();
        assert!(name.contains("AEX Certificate Authority v3"), "{name}");
        assert_eq!(cert.tbs_certificate().issuer(), cert.tbs_certificate().subject());
    }

    #[test]
    fn serials_are_positive_and_distinct() {
        let (a, bytes) = random_serial().unwrap();
        let (b, _) = random_serial().unwrap();
        assert_ne!(a, b);
        assert_eq!(bytes.len(), 16);
    }
}
