//! Service tokens: the short-lived internal JWTs the gateway forwards with each request and
//! services attach to their calls to each other, and the `Principal` extractor that verifies
//! them. Services never trust a bare tenant header; who is calling comes from a token.

use crate::secret::Secret;
use crate::server::ApiError;
use axum::extract::{FromRef, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Issuer of every service token.
pub const SERVICE_TOKEN_ISSUER: &str = "aex-internal";
/// Audience of every service token.
pub const SERVICE_TOKEN_AUDIENCE: &str = "aex-services";
/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;
const LEEWAY_SECONDS: u64 = 5;

/// Configuration fragment for services that mint or verify service tokens.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceTokenArgs {
    /// Shared HS256 secret for internal service tokens (at least 32 bytes).
    #[arg(long = "service-token-secret", env = "AEX_SERVICE_TOKEN_SECRET", hide_env_values = true)]
    pub service_token_secret: Secret<String>,
    /// Lifetime of minted service tokens, in seconds.
    #[arg(long = "service-token-ttl-seconds", env = "AEX_SERVICE_TOKEN_TTL_SECONDS", default_value_t = 60)]
    pub service_token_ttl_seconds: u64,
}

/// The claims of a service token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceClaims {
    pub iss: String,
    pub aud: String,
    /// Who is calling: `gateway` for a forwarded client request, or a service name.
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    /// The tenant the request acts for, when it acts for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Why a secret or a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the service token secret must be at least {MIN_SECRET_LEN} bytes")]
    SecretTooShort,
    #[error("the service token secret is a placeholder value")]
    PlaceholderSecret,
    #[error("could not sign the token")]
    Signing,
    #[error("token expired")]
    Expired,
    #[error("invalid token")]
    Invalid,
}

/// Refuses short or well-known placeholder secrets.
pub fn validate_secret(secret: &str) -> Result<(), TokenError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(TokenError::SecretTooShort);
    }
    let lowered = secret.to_ascii_lowercase();
    const PLACEHOLDERS: [&str; 6] = ["changeme", "change-me", "secret", "placeholder", "example", "your-"];
    if PLACEHOLDERS.iter().any(|p| lowered.contains(p)) || secret.bytes().all(|b| b == secret.as_bytes()[0]) {
        return Err(TokenError::PlaceholderSecret);
    }
    Ok(())
}

/// Mints and verifies service tokens with one shared secret. Cheap to clone.
#[derive(Clone)]
pub struct ServiceTokens {
    inner: Arc<Keys>,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for ServiceTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTokens").field("ttl", &self.inner.ttl).finish_non_exhaustive()
    }
}

impl ServiceTokens {
    pub fn new(secret: &Secret<String>, ttl: Duration) -> Result<Self, TokenError> {
        validate_secret(secret.expose())?;
        let bytes = secret.expose().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[SERVICE_TOKEN_ISSUER]);
        validation.set_audience(&[SERVICE_TOKEN_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        Ok(Self {
            inner: Arc::new(Keys {
                encoding: EncodingKey::from_secret(bytes),
                decoding: DecodingKey::from_secret(bytes),
                validation,
                ttl,
            }),
        })
    }

    pub fn from_args(args: &ServiceTokenArgs) -> Result<Self, TokenError> {
        Self::new(&args.service_token_secret, Duration::from_secs(args.service_token_ttl_seconds))
    }

    /// A token for `subject` acting for `tenant_id` with `scopes`.
    pub fn mint(
        &self,
        subject: &str,
        tenant_id: Option<&str>,
        scopes: &[String],
        request_id: Option<&str>,
    ) -> Result<String, TokenError> {
        let now = unix_now();
        let claims = ServiceClaims {
            iss: SERVICE_TOKEN_ISSUER.to_string(),
            aud: SERVICE_TOKEN_AUDIENCE.to_string(),
            sub: subject.to_string(),
            iat: now,
            exp: now + self.inner.ttl.as_secs(),
            tenant_id: tenant_id.map(str::to_string),
            scopes: scopes.to_vec(),
            request_id: request_id.map(str::to_string),
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims; used by tests to forge edge cases.
    pub fn sign(&self, claims: &ServiceClaims) -> Result<String, TokenError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.inner.encoding)
            .map_err(|_| TokenError::Signing)
    }

    pub fn verify(&self, token: &str) -> Result<ServiceClaims, TokenError> {
        jsonwebtoken::decode::<ServiceClaims>(token, &self.inner.decoding, &self.inner.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Who is calling a service, proven by a verified service token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `gateway` for client requests, otherwise the calling service.
    pub caller: String,
    pub tenant_id: Option<String>,
    pub scopes: Vec<String>,
    pub request_id: Option<String>,
}

impl Principal {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope || s == "*")
    }

    pub fn is_admin(&self) -> bool {
        self.has_scope("admin")
    }

    /// The tenant the request acts for, or 401 when the token carries none.
    pub fn require_tenant(&self) -> Result<&str, ApiError> {
        self.tenant_id
            .as_deref()
            .ok_or_else(|| ApiError::unauthorized("AUTHENTICATION_REQUIRED", "this route acts for a tenant"))
    }

    /// Internal routes answer other platform services only, never a forwarded client request.
    pub fn require_service(&self) -> Result<(), ApiError> {
        if self.caller == "gateway" {
            Err(ApiError::forbidden("SERVICE_ONLY", "this route is for platform services"))
        } else {
            Ok(())
        }
    }

    pub fn require_scope(&self, scope: &'static str) -> Result<(), ApiError> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden("INSUFFICIENT_SCOPE", format!("requires scope {scope}")))
        }
    }
}

impl<S> FromRequestParts<S> for Principal
where
    ServiceTokens: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        principal_of(parts, &ServiceTokens::from_ref(state))
    }
}

/// The principal proven by the request's `Authorization: Bearer <service token>`.
fn principal_of(parts: &Parts, tokens: &ServiceTokens) -> Result<Principal, ApiError> {
    let token = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("AUTHENTICATION_REQUIRED", "a service token is required"))?;
    let claims = tokens.verify(token.trim()).map_err(|e| match e {
        TokenError::Expired => ApiError::unauthorized("TOKEN_EXPIRED", "the service token has expired"),
        _ => ApiError::unauthorized("INVALID_TOKEN", "the service token is invalid"),
    })?;
    Ok(Principal {
        caller: claims.sub,
        tenant_id: claims.tenant_id,
        scopes: claims.scopes,
        request_id: claims.request_id,
    })
}

/// Every route of a service requires a valid service token unless it is listed as public,
/// so a handler that forgets to ask for its [`Principal`] still fails closed. Install it with
/// `route_layer` after the service's routes (the operational routes are added later and stay
/// open).
///
/// ```
/// use aex_common::auth::{ServiceAuth, ServiceTokens, require_service_token};
/// use aex_common::secret::Secret;
/// use axum::{Router, middleware::from_fn_with_state, routing::get};
/// let secret = Secret::new("0123456789abcdefghijklmnopqrstuv".to_string());
/// let tokens = ServiceTokens::new(&secret, std::time::Duration::from_secs(60))?;
/// let app: Router = Router::new()
///     .route("/v1/crl", get(|| async { "public" }))
///     .route("/v1/things", get(|| async { "private" }))
///     .route_layer(from_fn_with_state(ServiceAuth::new(tokens, &["/v1/crl"]), require_service_token));
/// # Ok::<(), aex_common::auth::TokenError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ServiceAuth {
    tokens: ServiceTokens,
    public: &'static [&'static str],
}

impl ServiceAuth {
    /// Guards every route but the `public` path patterns (as written in the router).
    pub fn new(tokens: ServiceTokens, public: &'static [&'static str]) -> Self {
        Self { tokens, public }
    }
}

/// The [`ServiceAuth`] middleware: verifies the token once and hands the [`Principal`] to the
/// handler's extractor.
pub async fn require_service_token(State(auth): State<ServiceAuth>, request: Request, next: Next) -> Response {
    let public = request.extensions().get::<MatchedPath>().is_some_and(|p| auth.public.contains(&p.as_str()));
    if public {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    match principal_of(&parts, &auth.tokens) {
        Ok(principal) => {
            parts.extensions.insert(principal);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(refusal) => refusal.into_response(),
    }
}
