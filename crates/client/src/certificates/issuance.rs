//! Certificate requests and certificates: request, approve/reject [admin], get, renew, revoke,
//! verify, search, and a provider's certificates.

use crate::client::{Client, resource};
use crate::error::Result;
use crate::page::{Page, PageParams, walk};
use aex_types::{CertRequestId, CertificateId, Timestamp};
use futures::stream::BoxStream;
use reqwest::Method;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// What a certificate attests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CertificateType {
    Capability,
    Identity,
    Reputation,
    Reseller,
}

/// A capability claim: what the agent may do, in which category, at which authorization level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub category: String,
    pub capability: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub authorization: String,
}

/// The key the certificate will bind: a public key, or a PKCS#10 CSR proving possession.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// `public_key_pem`: an ECDSA P-256 SubjectPublicKeyInfo PEM.
    PublicKeyPem(String),
    /// `csr_pem`: a PKCS#10 CSR, signed with the key.
    CsrPem(String),
}

/// `POST /v1/certificates/request` [certs:issue].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRequest {
    /// The provider, belonging to the first tenant that requests for it. AEX-compatible ids
    /// (1–128 of `A-Z a-z 0-9 _ - . :`) are accepted besides `prov_…`.
    pub provider_id: String,
    pub agent_name: String,
    pub certificate_type: CertificateType,
    pub claims: Vec<Claim>,
    pub key: KeyMaterial,
}

impl Serialize for CertificateRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            provider_id: &'a str,
            agent_name: &'a str,
            certificate_type: CertificateType,
            claims: &'a [Claim],
            #[serde(skip_serializing_if = "Option::is_none")]
            public_key_pem: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            csr_pem: Option<&'a str>,
        }
        let (public_key_pem, csr_pem) = match &self.key {
            KeyMaterial::PublicKeyPem(pem) => (Some(pem.as_str()), None),
            KeyMaterial::CsrPem(pem) => (None, Some(pem.as_str())),
        };
        Wire {
            provider_id: &self.provider_id,
            agent_name: &self.agent_name,
            certificate_type: self.certificate_type,
            claims: &self.claims,
            public_key_pem,
            csr_pem,
        }
        .serialize(serializer)
    }
}

/// A certificate request and the operator's decision.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CertificateRequestStatus {
    pub request_id: CertRequestId,
    /// `PENDING`, `APPROVED` or `REJECTED`.
    pub status: String,
    pub provider_id: String,
    pub agent_name: String,
    pub certificate_type: CertificateType,
    pub claims: Vec<Claim>,
    pub certificate_id: Option<CertificateId>,
    /// The operator's reason for a rejection.
    pub reason: Option<String>,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
}

/// An issued certificate: the signed AEX credential and the X.509 certificate.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Certificate {
    pub certificate_id: CertificateId,
    pub request_id: Option<CertRequestId>,
    pub provider_id: String,
    pub agent_name: String,
    pub certificate_type: CertificateType,
    /// `ACTIVE`, `REVOKED`, `SUPERSEDED` or `SUSPENDED`.
    pub status: String,
    pub claims: Vec<Claim>,
    /// The CA key version that signed it.
    pub key_version: i32,
    pub serial: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub issued_at: Timestamp,
    /// The signed credential with `signature`, `signature_algorithm` and `fingerprint`: present
    /// it as is to [`Certificates::verify_presented`].
    pub certificate: Value,
    pub signature: String,
    pub fingerprint: String,
    pub x509_pem: String,
    pub previous_cert_id: Option<CertificateId>,
    pub renewal_count: i32,
    pub revoked_at: Option<Timestamp>,
    pub revocation_reason: Option<String>,
}

/// `DELETE /v1/certificates/{id}`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RevokedCertificate {
    /// `revoked`.
    pub status: String,
    pub certificate_id: CertificateId,
}

/// The verdict on a certificate: `valid: false` with a `reason` for unknown, revoked, expired,
/// suspended, badly signed or `revoked_key` certificates.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Verdict {
    pub valid: bool,
    /// As presented (an unknown id is echoed).
    pub certificate_id: Option<String>,
    pub provider_id: Option<String>,
    pub status: Option<String>,
    pub not_before: Option<Timestamp>,
    pub not_after: Option<Timestamp>,
    pub reason: Option<String>,
    pub errors: Vec<String>,
}

/// `GET /v1/certificates/search` parameters; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateSearch {
    pub provider_id: Option<String>,
    pub certificate_type: Option<CertificateType>,
    /// `ACTIVE`, `REVOKED`, `SUPERSEDED` or `SUSPENDED`.
    pub status: Option<String>,
    /// Only certificates with a claim in this category…
    pub category: Option<String>,
    /// …and/or for this capability.
    pub capability: Option<String>,
    /// Limit 1–100 (default 50) and offset.
    pub page: PageParams,
}

#[derive(Serialize)]
struct Reason<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum VerifyBody<'a> {
    Id { certificate_id: &'a str },
    Presented { certificate: &'a Value },
}

resource!(
    /// Certificate requests and certificates: `client.certificates()`.
    Certificates
);

impl Client {
    /// Certificates (certauth).
    pub fn certificates(&self) -> Certificates<'_> {
        Certificates::new(self)
    }
}

impl Certificates<'_> {
    /// `POST /v1/certificates/request` [certs:issue]: a `PENDING` request for the operator.
    pub async fn request(&self, request: &CertificateRequest) -> Result<CertificateRequestStatus> {
        self.call(Method::POST, &["v1", "certificates", "request"]).json(request)?.send().await
    }

    /// `POST /v1/certificates/requests/{id}/approve` [admin]: issues the certificate.
    /// Approving twice issues one certificate.
    pub async fn approve(&self, request: &CertRequestId) -> Result<Certificate> {
        self.call(Method::POST, &["v1", "certificates", "requests", request.as_str(), "approve"]).send().await
    }

    /// `POST /v1/certificates/requests/{id}/reject` [admin].
    pub async fn reject(&self, request: &CertRequestId, reason: Option<&str>) -> Result<CertificateRequestStatus> {
        self.call(Method::POST, &["v1", "certificates", "requests", request.as_str(), "reject"])
            .json(&Reason { reason })?
            .send()
            .await
    }

    /// `GET /v1/certificates/{id}`: the owner's tenant or the operator.
    pub async fn get(&self, id: &CertificateId) -> Result<Certificate> {
        self.call(Method::GET, &["v1", "certificates", id.as_str()]).send().await
    }

    /// `POST /v1/certificates/{id}/renew` [certs:issue]: a new certificate naming this one as
    /// `previous_cert_id`; this one is superseded.
    pub async fn renew(&self, id: &CertificateId) -> Result<Certificate> {
        self.call(Method::POST, &["v1", "certificates", id.as_str(), "renew"]).send().await
    }

    /// `DELETE /v1/certificates/{id}` [certs:issue]: revokes it; the CRL is re-signed.
    pub async fn revoke(&self, id: &CertificateId, reason: Option<&str>) -> Result<RevokedCertificate> {
        self.call(Method::DELETE, &["v1", "certificates", id.as_str()]).json(&Reason { reason })?.send().await
    }

    /// `POST /v1/certificates/verify` by id: an unknown id is a verdict (`valid: false`), not an error.
    pub async fn verify(&self, certificate_id: &str) -> Result<Verdict> {
        self.call(Method::POST, &["v1", "certificates", "verify"])
            .json(&VerifyBody::Id { certificate_id })?
            .send()
            .await
    }

    /// `POST /v1/certificates/verify` with a presented signed credential ([`Certificate::certificate`]).
    pub async fn verify_presented(&self, certificate: &Value) -> Result<Verdict> {
        self.call(Method::POST, &["v1", "certificates", "verify"])
            .json(&VerifyBody::Presented { certificate })?
            .send()
            .await
    }

    /// `GET /v1/certificates/search`: one page of the caller's certificates (all, for the operator).
    pub async fn search(&self, search: &CertificateSearch) -> Result<Page<Certificate>> {
        let certificate_type = search.certificate_type.map(|t| match t {
            CertificateType::Capability => "CAPABILITY",
            CertificateType::Identity => "IDENTITY",
            CertificateType::Reputation => "REPUTATION",
            CertificateType::Reseller => "RESELLER",
        });
        let value = self
            .call(Method::GET, &["v1", "certificates", "search"])
            .query(&[
                ("provider_id", search.provider_id.as_deref()),
                ("certificate_type", certificate_type),
                ("status", search.status.as_deref()),
                ("category", search.category.as_deref()),
                ("capability", search.capability.as_deref()),
            ])
            .query(&search.page.pairs())
            .send()
            .await?;
        Page::decode(value, "certificates")
    }

    /// Every certificate the search matches, page after page.
    pub fn search_all(&self, search: CertificateSearch) -> BoxStream<'static, Result<Certificate>> {
        let client = self.client.clone();
        walk(search.page, move |page| {
            let (client, search) = (client.clone(), CertificateSearch { page, ..search.clone() });
            async move { client.certificates().search(&search).await }
        })
    }

    /// `GET /v1/providers/{id}/certificates`: one page of a provider's certificates.
    pub async fn for_provider(&self, provider_id: &str, page: PageParams) -> Result<Page<Certificate>> {
        let value = self
            .call(Method::GET, &["v1", "providers", provider_id, "certificates"])
            .query(&page.pairs())
            .send()
            .await?;
        Page::decode(value, "certificates")
    }
}
