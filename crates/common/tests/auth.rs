//! Service tokens: what is accepted and everything that must be refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aex_common::auth::{Principal, ServiceClaims, ServiceTokens, TokenError, validate_secret};
use aex_common::secret::Secret;
use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use base64::Engine;
use std::time::Duration;

const SECRET: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c";
const OTHER_SECRET: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c07";

fn tokens(secret: &str) -> ServiceTokens {
    aex_testkit::init();
    ServiceTokens::new(&Secret::new(secret.to_string()), Duration::from_secs(60)).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn claims() -> ServiceClaims {
    ServiceClaims {
        iss: "aex-internal".into(),
        aud: "aex-services".into(),
        sub: "gateway".into(),
        iat: now(),
        exp: now() + 60,
        tenant_id: Some("tenant_0123456789abcdefghjkmnpqrs".into()),
        scopes: vec!["work:submit".into()],
        request_id: Some("req-1".into()),
    }
}

#[test]
fn a_minted_token_verifies_with_its_claims() {
    let tokens = tokens(SECRET);
    let token = tokens.mint("gateway", Some("tenant_a"), &["read".to_string()], Some("req-9")).unwrap();
    let claims = tokens.verify(&token).unwrap();
    assert_eq!(claims.sub, "gateway");
    assert_eq!(claims.tenant_id.as_deref(), Some("tenant_a"));
    assert_eq!(claims.scopes, vec!["read"]);
    assert_eq!(claims.request_id.as_deref(), Some("req-9"));
    assert_eq!(claims.exp - claims.iat, 60);
}

#[test]
fn an_expired_token_is_refused() {
    let tokens = tokens(SECRET);
    let mut expired = claims();
    expired.iat = now() - 120;
    expired.exp = now() - 60;
    assert_eq!(tokens.verify(&tokens.sign(&expired).unwrap()), Err(TokenError::Expired));
}

#[test]
fn a_token_signed_with_another_secret_is_refused() {
    let forged = tokens(OTHER_SECRET).sign(&claims()).unwrap();
    assert_eq!(tokens(SECRET).verify(&forged), Err(TokenError::Invalid));
}

#[test]
fn alg_none_is_refused() {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = engine.encode(serde_json::to_vec(&claims()).unwrap());
    for token in [format!("{header}.{payload}."), format!("{header}.{payload}")] {
        assert_eq!(tokens(SECRET).verify(&token), Err(TokenError::Invalid), "{token}");
    }
}

#[test]
fn another_algorithm_with_the_same_secret_is_refused() {
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    let token =
        jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512), &claims(), &key).unwrap();
    assert_eq!(tokens(SECRET).verify(&token), Err(TokenError::Invalid));
}

#[test]
fn wrong_audience_or_issuer_is_refused() {
    let tokens = tokens(SECRET);
    let mut wrong_aud = claims();
    wrong_aud.aud = "aex".into();
    assert_eq!(tokens.verify(&tokens.sign(&wrong_aud).unwrap()), Err(TokenError::Invalid));
    let mut wrong_iss = claims();
    wrong_iss.iss = "aex-identity".into();
    assert_eq!(tokens.verify(&tokens.sign(&wrong_iss).unwrap()), Err(TokenError::Invalid));
}

#[test]
fn weak_and_placeholder_secrets_are_refused() {
    assert_eq!(validate_secret("short"), Err(TokenError::SecretTooShort));
    assert_eq!(validate_secret(&"a".repeat(40)), Err(TokenError::PlaceholderSecret));
    assert_eq!(validate_secret("changeme-changeme-changeme-changeme"), Err(TokenError::PlaceholderSecret));
    assert_eq!(validate_secret(SECRET), Ok(()));
}

#[derive(Clone, FromRef)]
struct State {
    tokens: ServiceTokens,
}

#[tokio::test]
async fn the_principal_extractor_answers_401_with_stable_codes() {
    let tokens = tokens(SECRET);
    let app = Router::new()
        .route("/whoami", get(|p: Principal| async move { p.tenant_id.unwrap_or_default() }))
        .with_state(State { tokens: tokens.clone() });
    let (listener, addr) = aex_testkit::listener().await;
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/whoami");

    let none = client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let body: aex_api::ErrorEnvelope = none.json().await.unwrap();
    assert_eq!(body.error.code, "AUTHENTICATION_REQUIRED");

    let forged = tokens_for_other().sign(&claims()).unwrap();
    let bad = client.get(&url).bearer_auth(forged).send().await.unwrap();
    assert_eq!(bad.status(), 401);
    let body: aex_api::ErrorEnvelope = bad.json().await.unwrap();
    assert_eq!(body.error.code, "INVALID_TOKEN");

    let good = tokens.mint("gateway", Some("tenant_z"), &[], None).unwrap();
    let ok = client.get(&url).bearer_auth(good).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "tenant_z");
}

fn tokens_for_other() -> ServiceTokens {
    tokens(OTHER_SECRET)
}
