//! Certificates and reputation (certauth): certificate requests and their approval, issued
//! certificates (signed JSON credential + X.509), renewal, revocation, verification, search,
//! the CA's published keys and CRL, and providers' trust, reputation and leaderboard.
//!
//! ```no_run
//! use aex_client::certificates::{CertificateRequest, CertificateType, Claim, KeyMaterial};
//!
//! # async fn demo(provider: aex_client::Client, operator: aex_client::Client, pem: String) -> aex_client::Result<()> {
//! let request = provider
//!     .certificates()
//!     .request(&CertificateRequest {
//!         provider_id: "prov_…".to_string(),
//!         agent_name: "Legal Translator".to_string(),
//!         certificate_type: CertificateType::Capability,
//!         claims: vec![Claim {
//!             category: "translation".into(),
//!             capability: "legal".into(),
//!             scope: None,
//!             authorization: "full".into(),
//!         }],
//!         key: KeyMaterial::PublicKeyPem(pem),
//!     })
//!     .await?;
//! let certificate = operator.certificates().approve(&request.request_id).await?;
//! let verdict = provider.certificates().verify_presented(&certificate.certificate).await?;
//! assert!(verdict.valid);
//! # Ok(())
//! # }
//! ```

mod authority;
mod issuance;
mod reputation;

pub use authority::{CaDocument, CaKey, CertificateAuthority, Crl, CrlEntry};
pub use issuance::{
    Certificate, CertificateRequest, CertificateRequestStatus, CertificateSearch, CertificateType, Certificates, Claim,
    KeyMaterial, RevokedCertificate, Verdict,
};
pub use reputation::{CertifiedCapability, LeaderboardEntry, ProviderReputation, ProviderTrust, Reputation};
