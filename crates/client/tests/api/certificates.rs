//! Certificate requests, approval, verification, revocation and the CA's public documents,
//! through the gateway to the real certauth.

use crate::stack;
use aex_client::PageParams;
use aex_client::certificates::{CertificateRequest, CertificateSearch, CertificateType, Claim, KeyMaterial};
use aex_client::identity::TenantType;
use futures::TryStreamExt;

fn request_for(provider_id: &str) -> CertificateRequest {
    let key = aex_certauth::domain::ca::generate_key().unwrap();
    CertificateRequest {
        provider_id: provider_id.to_string(),
        agent_name: "Translator Agent".into(),
        certificate_type: CertificateType::Capability,
        claims: vec![
            Claim {
                category: "translation".into(),
                capability: "en-de".into(),
                scope: Some("eu".into()),
                authorization: "FULL".into(),
            },
            Claim {
                category: "summarization".into(),
                capability: "*".into(),
                scope: None,
                authorization: "LIMITED".into(),
            },
        ],
        key: KeyMaterial::PublicKeyPem(aex_certauth::domain::ca::public_key_pem(key.verifying_key()).unwrap()),
    }
}

#[tokio::test]
async fn a_certificate_is_requested_approved_verified_and_revoked() {
    let stack = stack();
    let (_, provider) = stack.tenant(TenantType::Provider).await;
    let operator = stack.operator();
    let provider_id = aex_types::ProviderId::new().to_string();

    let request = provider.certificates().request(&request_for(&provider_id)).await.unwrap();
    assert_eq!(request.status, "PENDING");
    assert_eq!(request.claims.len(), 2);

    // Only the operator approves.
    let error = provider.certificates().approve(&request.request_id).await.unwrap_err();
    assert_eq!((error.status(), error.code()), (Some(403), Some("INSUFFICIENT_SCOPE")));
    let issued = operator.certificates().approve(&request.request_id).await.unwrap();
    assert_eq!((issued.status.as_str(), issued.provider_id.as_str()), ("ACTIVE", provider_id.as_str()));
    assert_eq!(issued.request_id.as_ref(), Some(&request.request_id));
    assert!(issued.x509_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(issued.certificate["fingerprint"], issued.fingerprint.as_str());

    let fetched = provider.certificates().get(&issued.certificate_id).await.unwrap();
    assert_eq!(fetched.certificate_id, issued.certificate_id);

    let verdict = provider.certificates().verify(issued.certificate_id.as_str()).await.unwrap();
    assert!(verdict.valid, "{verdict:?}");
    assert_eq!(verdict.provider_id.as_deref(), Some(provider_id.as_str()));
    let presented = provider.certificates().verify_presented(&issued.certificate).await.unwrap();
    assert!(presented.valid, "{presented:?}");
    let unknown = provider.certificates().verify(aex_types::CertificateId::new().as_str()).await.unwrap();
    assert!(!unknown.valid, "an unknown id is a verdict, not an error");

    let mine = provider
        .certificates()
        .search(&CertificateSearch { provider_id: Some(provider_id.clone()), ..CertificateSearch::default() })
        .await
        .unwrap();
    assert_eq!((mine.total, mine.items[0].certificate_id.clone()), (1, issued.certificate_id.clone()));
    let for_provider = provider.certificates().for_provider(&provider_id, PageParams::default()).await.unwrap();
    assert_eq!(for_provider.items.len(), 1);

    let renewed = provider.certificates().renew(&issued.certificate_id).await.unwrap();
    assert_eq!(renewed.previous_cert_id.as_ref(), Some(&issued.certificate_id));
    assert_eq!(renewed.renewal_count, 1);

    let revoked = provider.certificates().revoke(&renewed.certificate_id, Some("key compromise")).await.unwrap();
    assert_eq!((revoked.status.as_str(), &revoked.certificate_id), ("revoked", &renewed.certificate_id));
    let verdict = provider.certificates().verify(renewed.certificate_id.as_str()).await.unwrap();
    assert!(!verdict.valid);
    let crl = stack.anonymous().ca().crl().await.unwrap();
    assert!(crl.entries.iter().any(|e| e.certificate_id == renewed.certificate_id), "the CRL lists it");
    assert!(!stack.anonymous().ca().crl_der().await.unwrap().is_empty());

    let document = stack.anonymous().ca().well_known().await.unwrap();
    assert_eq!(document.algorithm, "ECDSA-P256-SHA256");
    assert!(document.keys.iter().any(|k| Some(&k.key_id) == document.key_id.as_ref() && k.status == "active"));

    // Another tenant does not see the provider's certificates.
    let (_, stranger) = stack.tenant(TenantType::Provider).await;
    let error = stranger.certificates().get(&issued.certificate_id).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
}

#[tokio::test]
async fn certificate_search_walks_every_page() {
    let stack = stack();
    let (_, provider) = stack.tenant(TenantType::Provider).await;
    let operator = stack.operator();
    let provider_id = aex_types::ProviderId::new().to_string();
    let mut issued = Vec::new();
    for _ in 0..5 {
        let request = provider.certificates().request(&request_for(&provider_id)).await.unwrap();
        issued.push(operator.certificates().approve(&request.request_id).await.unwrap().certificate_id);
    }
    let search =
        CertificateSearch { provider_id: Some(provider_id.clone()), page: PageParams::limit(2), ..Default::default() };
    let page = provider.certificates().search(&search).await.unwrap();
    assert_eq!((page.items.len(), page.total, page.limit), (2, 5, 2));
    let mut all: Vec<_> = provider
        .certificates()
        .search_all(search)
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.certificate_id)
        .collect();
    all.sort();
    issued.sort();
    assert_eq!(all, issued);

    let leaderboard = provider.reputation().leaderboard(PageParams::limit(5)).await.unwrap();
    assert!(leaderboard.items.len() as u64 <= leaderboard.total.min(5));
}
