//! Access tokens: short-lived HS256 JWTs issued for an API key by `POST /v1/auth/token`.
//! `iss = aex-identity`, `aud = aex`, `exp` required, 5 s leeway, HS256 only.

use crate::error::Error;
use aex_common::secret::Secret;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

pub const ISSUER: &str = "aex-identity";
pub const AUDIENCE: &str = "aex";
const LEEWAY_SECONDS: u64 = 5;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The API key the token was issued for; revoking it ends the token too.
    pub sub: String,
    pub tenant_id: String,
    pub scopes: Vec<String>,
    pub iat: u64,
    pub exp: u64,
}

/// Issues and verifies access tokens. Cheap to clone.
#[derive(Clone)]
pub struct AccessTokens {
    inner: Arc<Keys>,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens").field("ttl", &self.inner.ttl).finish_non_exhaustive()
    }
}

impl AccessTokens {
    /// The secret must already have passed `config::check_jwt_secret`.
    pub fn new(secret: &Secret<String>, ttl: Duration) -> Self {
        let bytes = secret.expose().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Self {
            inner: Arc::new(Keys {
                encoding: EncodingKey::from_secret(bytes),
                decoding: DecodingKey::from_secret(bytes),
                validation,
                ttl,
            }),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// A token for key `key_id` of `tenant_id` with `scopes`.
    pub fn issue(&self, key_id: &str, tenant_id: &str, scopes: &[String]) -> Result<String, Error> {
        let now = unix_now();
        let claims = AccessClaims {
            iss: ISSUER.to_string(),
            aud: AUDIENCE.to_string(),
            sub: key_id.to_string(),
            tenant_id: tenant_id.to_string(),
            scopes: scopes.to_vec(),
            iat: now,
            exp: now.saturating_add(self.inner.ttl.as_secs()),
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims (tests forge edge cases with it).
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.inner.encoding)
            .map_err(|_| Error::Internal("could not sign an access token".into()))
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, Error> {
        jsonwebtoken::decode::<AccessClaims>(token, &self.inner.decoding, &self.inner.validation)
            .map(|data| data.claims)
            .map_err(|error| {
                Error::InvalidToken(match error.kind() {
                    ErrorKind::ExpiredSignature => "expired",
                    ErrorKind::InvalidSignature => "bad signature",
                    ErrorKind::InvalidIssuer => "wrong issuer",
                    ErrorKind::InvalidAudience => "wrong audience",
                    ErrorKind::MissingRequiredClaim(_) => "missing required claim",
                    ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "algorithm not accepted",
                    ErrorKind::ImmatureSignature => "not yet valid",
                    _ => "malformed",
                })
            })
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tokens() -> AccessTokens {
        AccessTokens::new(&Secret::new("k".repeat(16) + &"z".repeat(16) + "extra"), Duration::from_secs(60))
    }

    fn reason(result: Result<AccessClaims, Error>) -> &'static str {
        match result {
            Err(Error::InvalidToken(reason)) => reason,
            other => panic!("expected InvalidToken, got {other:?}"),
        }
    }

    #[test]
    fn round_trip_and_each_refusal() {
        let t = tokens();
        let token = t.issue("key_1", "tenant_1", &["read".to_string()]).unwrap();
        let claims = t.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.tenant_id.as_str()), ("key_1", "tenant_1"));

        let now = unix_now();
        let base = AccessClaims { exp: now + 60, ..claims };
        assert_eq!(reason(t.verify(&t.sign(&AccessClaims { exp: now - 60, ..base.clone() }).unwrap())), "expired");
        assert!(t.verify(&t.sign(&AccessClaims { exp: now - 2, ..base.clone() }).unwrap()).is_ok(), "within leeway");
        assert_eq!(
            reason(t.verify(&t.sign(&AccessClaims { iss: "evil".into(), ..base.clone() }).unwrap())),
            "wrong issuer"
        );
        assert_eq!(
            reason(t.verify(&t.sign(&AccessClaims { aud: "other".into(), ..base.clone() }).unwrap())),
            "wrong audience"
        );
        let other = AccessTokens::new(&Secret::new("q".repeat(40)), Duration::from_secs(60));
        assert_eq!(reason(t.verify(&other.sign(&base).unwrap())), "bad signature");
        assert_eq!(reason(t.verify("not.a.jwt")), "malformed");
    }
}
