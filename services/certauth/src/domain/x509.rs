//! X.509 for agents: reading an agent's P-256 key (bare or in a PKCS#10 CSR, whose signature
//! proves possession), building the leaf certificate chained to a CA version, and the CRL.
//!
//! The claims travel in a private, non-critical extension, [`CLAIMS_EXTENSION_OID`], whose
//! value is a DER UTF8String holding the canonical JSON
//! `{"certificate_id":…,"certificate_type":…,"claims":[…]}` (the same canonical form the signed
//! credential uses), so X.509-only verifiers can read what the agent may do.

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use std::str::FromStr;
use std::time::SystemTime;
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder, CrlBuilder};
use x509_cert::certificate::{Rfc5280, TbsCertificate};
use x509_cert::crl::RevokedCert;
use x509_cert::der::asn1::{OctetString, Utf8StringRef};
use x509_cert::der::{Decode, DecodePem, Encode, EncodePem};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CrlNumber, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::request::CertReq;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{ObjectIdentifier, SubjectPublicKeyInfo, SubjectPublicKeyInfoRef};
use x509_cert::time::{Time, Validity};

/// The AEX claims extension. Arc 1.3.6.1.4.1.32473 is the private-enterprise number IANA
/// reserves for documentation (RFC 5612); `.7247.1` is "AEX capability claims". Replace the
/// enterprise arc with an allocated PEN before certificates leave a closed deployment.
pub const CLAIMS_EXTENSION_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.7247.1");

/// ecdsa-with-SHA256.
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// Longest PEM accepted for a key or a CSR.
pub const MAX_PEM_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("public_key_pem is not a PEM-encoded P-256 public key (SubjectPublicKeyInfo)")]
    InvalidPublicKey,
    #[error("csr_pem is not a valid PKCS#10 request: {0}")]
    InvalidCsr(&'static str),
}

/// Parses a SubjectPublicKeyInfo PEM and requires an EC key on P-256.
pub fn parse_public_key_pem(pem: &str) -> Result<VerifyingKey, KeyError> {
    if pem.len() > MAX_PEM_LEN {
        return Err(KeyError::InvalidPublicKey);
    }
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|_| KeyError::InvalidPublicKey)
}

/// Parses a PKCS#10 CSR, requires a P-256 key and an ECDSA/SHA-256 signature, and checks that
/// signature with the key inside (proof of possession).
pub fn verify_csr(pem: &str) -> Result<VerifyingKey, KeyError> {
    if pem.len() > MAX_PEM_LEN {
        return Err(KeyError::InvalidCsr("too long"));
    }
    let request = CertReq::from_pem(pem.trim().as_bytes()).map_err(|_| KeyError::InvalidCsr("malformed"))?;
    let spki_der = request.info.public_key.to_der().map_err(|_| KeyError::InvalidCsr("malformed key"))?;
    let spki = SubjectPublicKeyInfoRef::from_der(&spki_der).map_err(|_| KeyError::InvalidCsr("malformed key"))?;
    let key = VerifyingKey::try_from(spki).map_err(|_| KeyError::InvalidCsr("the key is not a P-256 key"))?;
    if request.algorithm.oid != ECDSA_WITH_SHA256 {
        return Err(KeyError::InvalidCsr("the signature algorithm is not ecdsa-with-SHA256"));
    }
    let signed = request.info.to_der().map_err(|_| KeyError::InvalidCsr("malformed"))?;
    let signature_bytes = request.signature.as_bytes().ok_or(KeyError::InvalidCsr("malformed signature"))?;
    let signature =
        DerSignature::from_bytes(signature_bytes).map_err(|_| KeyError::InvalidCsr("malformed signature"))?;
    key.verify(&signed, &signature).map_err(|_| KeyError::InvalidCsr("the signature does not match the key"))?;
    Ok(key)
}

#[derive(Debug, thiserror::Error)]
#[error("X.509: {0}")]
pub struct X509Error(pub String);

fn x509(error: impl std::fmt::Display) -> X509Error {
    X509Error(error.to_string())
}

/// What goes into an agent's leaf certificate.
#[derive(Debug, Clone)]
pub struct LeafSpec<'a> {
    pub serial: SerialNumber,
    /// Validated by the request rules: no characters that need escaping in a name.
    pub agent_name: &'a str,
    pub provider_id: &'a str,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// The canonical JSON carried in the claims extension.
    pub claims_json: &'a str,
}

/// The end-entity profile: issuer is the CA version's subject; a non-CA key for signatures,
/// key identifiers, and the claims extension.
struct AgentProfile {
    issuer: Name,
    subject: Name,
    claims: Extension,
}

impl BuilderProfile for AgentProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut extensions: Vec<Extension> = Vec::new();
        let subject = tbs.subject();
        extensions.push(
            (true, &BasicConstraints { ca: false, path_len_constraint: None }).to_extension(subject, &extensions)?,
        );
        extensions.push((true, &KeyUsage(KeyUsages::DigitalSignature.into())).to_extension(subject, &extensions)?);
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        extensions.push(ski.to_extension(subject, &extensions)?);
        let issuer_ski = SubjectKeyIdentifier::try_from(issuer_spk)?;
        let aki = AuthorityKeyIdentifier { key_identifier: Some(issuer_ski.0), ..Default::default() };
        extensions.push(aki.to_extension(subject, &extensions)?);
        extensions.push(self.claims.clone());
        Ok(extensions)
    }
}

/// Builds and signs the agent's leaf certificate with the CA version's key.
pub fn build_leaf(
    ca_certificate: &Certificate,
    ca_key: &SigningKey,
    agent_key: &VerifyingKey,
    spec: &LeafSpec<'_>,
) -> Result<Certificate, X509Error> {
    let subject = Name::from_str(&format!("CN={},O={}", spec.agent_name, spec.provider_id)).map_err(x509)?;
    let value = Utf8StringRef::new(spec.claims_json).map_err(x509)?.to_der().map_err(x509)?;
    let claims = Extension {
        extn_id: CLAIMS_EXTENSION_OID,
        critical: false,
        extn_value: OctetString::new(value).map_err(x509)?,
    };
    let profile = AgentProfile { issuer: ca_certificate.tbs_certificate().subject().clone(), subject, claims };
    let validity =
        Validity::new(Time::try_from(spec.not_before).map_err(x509)?, Time::try_from(spec.not_after).map_err(x509)?);
    let spki = SubjectPublicKeyInfo::from_key(agent_key).map_err(x509)?;
    let builder = CertificateBuilder::new(profile, spec.serial.clone(), validity, spki).map_err(x509)?;
    builder.build::<_, DerSignature>(ca_key).map_err(x509)
}

/// The claims JSON carried in a certificate's claims extension, if present.
pub fn claims_extension(certificate: &Certificate) -> Option<String> {
    let extension = certificate.tbs_certificate().extensions()?.iter().find(|e| e.extn_id == CLAIMS_EXTENSION_OID)?;
    let text = Utf8StringRef::from_der(extension.extn_value.as_bytes()).ok()?;
    Some(text.as_str().to_string())
}

/// One revoked certificate on a CRL.
#[derive(Debug, Clone)]
pub struct RevokedEntry {
    pub serial: Vec<u8>,
    pub revoked_at: SystemTime,
}

/// The X.509 CRL (DER) signed by the CA version's key.
pub fn build_crl(
    ca_certificate: &Certificate,
    ca_key: &SigningKey,
    crl_number: u64,
    this_update: SystemTime,
    next_update: SystemTime,
    entries: &[RevokedEntry],
) -> Result<Vec<u8>, X509Error> {
    let mut revoked = Vec::with_capacity(entries.len());
    for entry in entries {
        revoked.push(RevokedCert::<Rfc5280> {
            serial_number: SerialNumber::new(&entry.serial).map_err(x509)?,
            revocation_date: Time::try_from(entry.revoked_at).map_err(x509)?,
            crl_entry_extensions: None,
        });
    }
    let number = CrlNumber::try_from(u128::from(crl_number)).map_err(x509)?;
    let mut builder =
        CrlBuilder::<Rfc5280>::new_with_this_update(ca_certificate, number, Time::try_from(this_update).map_err(x509)?)
            .map_err(x509)?
            .with_next_update(Some(Time::try_from(next_update).map_err(x509)?));
    if !revoked.is_empty() {
        builder = builder.with_certificates(revoked.into_iter());
    }
    let crl = builder.build::<_, DerSignature>(ca_key).map_err(x509)?;
    crl.to_der().map_err(x509)
}

/// PEM of a certificate.
pub fn to_pem(certificate: &Certificate) -> Result<String, X509Error> {
    certificate.to_pem(x509_cert::der::pem::LineEnding::LF).map_err(x509)
}

/// SHA-256 (hex) of a public key's SubjectPublicKeyInfo DER.
pub fn subject_key_sha256(key: &VerifyingKey) -> Result<String, X509Error> {
    use sha2::{Digest, Sha256};
    let der = SubjectPublicKeyInfo::from_key(key).map_err(x509)?.to_der().map_err(x509)?;
    Ok(hex::encode(Sha256::digest(der)))
}

/// SHA-256 of the certificate's DER, lower-case hex.
pub fn der_fingerprint(certificate: &Certificate) -> Result<String, X509Error> {
    use sha2::{Digest, Sha256};
    Ok(hex::encode(Sha256::digest(certificate.to_der().map_err(x509)?)))
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::domain::ca::{ca_certificate, certificate_pem, generate_key, public_key_pem, random_serial};
    use std::time::Duration;
    use x509_cert::request::RequestBuilder;

    /// A CSR for `key`, PEM.
    pub(crate) fn csr_pem(key: &SigningKey) -> String {
        let builder = RequestBuilder::new(Name::from_str("CN=agent").unwrap()).unwrap();
        let request = builder.build::<_, DerSignature>(key).unwrap();
        request.to_pem(x509_cert::der::pem::LineEnding::LF).unwrap()
    }

    #[test]
    fn only_p256_public_keys_are_accepted() {
        let key = generate_key().unwrap();
        let pem = public_key_pem(key.verifying_key()).unwrap();
        assert_eq!(&parse_public_key_pem(&pem).unwrap(), key.verifying_key());
        // An Ed25519 key and a P-384 key (both valid SPKI PEM) are refused, as is garbage.
        let ed25519 = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
        let p384 = "-----BEGIN PUBLIC KEY-----\nMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEr4VbCfvj5XwpTBmBFMpOvGmPwGZgkdq8\nQ2gpPnCl9qYTXRRy8c/3qe3gGxz4NT6Bgdi6UaOvGGhqxBHDhHbw5iM6bnXwqaQ5\nlBhwmyv40DN/EoKuGXtwuaxUIFbFeMKt\n-----END PUBLIC KEY-----\n";
        for bad in [ed25519, p384, "", "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----", &"A".repeat(20_000)]
        {
            assert_eq!(parse_public_key_pem(bad), Err(KeyError::InvalidPublicKey), "{bad:.40}");
        }
    }

    #[test]
    fn a_csr_proves_possession_of_its_key_and_a_tampered_one_does_not() {
        let key = generate_key().unwrap();
        let pem = csr_pem(&key);
        assert_eq!(&verify_csr(&pem).unwrap(), key.verifying_key());

        let mut request = CertReq::from_pem(pem.as_bytes()).unwrap();
        // Swap in another key: the signature no longer matches the key inside.
        let other = generate_key().unwrap();
        request.info.public_key = SubjectPublicKeyInfo::from_key(other.verifying_key()).unwrap();
        let forged = request.to_pem(x509_cert::der::pem::LineEnding::LF).unwrap();
        assert!(matches!(verify_csr(&forged), Err(KeyError::InvalidCsr(_))));
        for bad in ["", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "junk"] {
            assert!(matches!(verify_csr(bad), Err(KeyError::InvalidCsr(_))));
        }
    }

    fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn openssl_accepts_the_leaf_and_the_crl_and_reads_the_claims_extension() {
        let ca_key = generate_key().unwrap();
        let ca = ca_certificate(&ca_key, 1, SystemTime::now()).unwrap();
        let agent = generate_key().unwrap();
        let (serial, serial_bytes) = random_serial().unwrap();
        let now = SystemTime::now();
        let spec = LeafSpec {
            serial,
            agent_name: "Agent (EU) v1",
            provider_id: "prov_1",
            not_before: now,
            not_after: now + Duration::from_secs(3600),
            claims_json: r#"{"claims":[]}"#,
        };
        let leaf = build_leaf(&ca, &ca_key, agent.verifying_key(), &spec).unwrap();
        assert_eq!(claims_extension(&leaf).as_deref(), Some(r#"{"claims":[]}"#));

        let dir = std::env::temp_dir()
            .join(format!("aex-x509-{}", hex::encode(crate::domain::ca::random_bytes::<6>().unwrap())));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_path = write(&dir, "ca.pem", certificate_pem(&ca).unwrap().as_bytes());
        let leaf_path = write(&dir, "leaf.pem", to_pem(&leaf).unwrap().as_bytes());
        let out = std::process::Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(&ca_path)
            .arg(&leaf_path)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );

        let crl = build_crl(
            &ca,
            &ca_key,
            2,
            now,
            now + Duration::from_secs(3600),
            &[RevokedEntry { serial: serial_bytes, revoked_at: now }],
        )
        .unwrap();
        let crl_path = write(&dir, "crl.der", &crl);
        let out = std::process::Command::new("openssl")
            .args(["crl", "-inform", "DER", "-noout", "-CAfile"])
            .arg(&ca_path)
            .arg("-in")
            .arg(&crl_path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("verify OK"), "{}", String::from_utf8_lossy(&out.stderr));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
